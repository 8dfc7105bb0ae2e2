"""Readers of the Deep Compression authors' published Caffe files.

* :mod:`compressor.caffe.textformat`: protobuf text-format parser;
* :mod:`compressor.caffe.prototxt`: Caffe network description -> :class:`compressor.graph.Net`;
* :mod:`compressor.caffe.authors_format`: the authors' compressed ``.net`` file (read
  and write, byte for byte);
* :mod:`compressor.caffe.squeezenet`: the compressed SqueezeNet decoded, re-encoded in
  this project's format and tabulated (``eie-compress squeezenet``).
"""
