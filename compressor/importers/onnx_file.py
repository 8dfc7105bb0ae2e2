"""An ONNX file, read and checked before any of its nodes is looked at.

:func:`read_onnx_model`: the file within a size limit (:data:`MAX_ONNX_BYTES`, regular
files only); :func:`onnx_model_from_bytes`: the bytes parsed with the ``onnx`` package,
every message walked once (:func:`check_messages`: no tensor stored as external data
anywhere, every string field UTF-8) and then ``onnx.checker``. Every failure is one
:class:`~compressor.errors.ModelImportError` naming the file. The nodes are mapped onto a
graph by :mod:`compressor.importers.onnx_walk` (docs/byom.md "ONNX").
"""
from __future__ import annotations

import pathlib

from ..errors import ModelImportError
from ..fileio import read_regular_file

__all__ = ["MAX_ONNX_BYTES", "read_onnx_model", "onnx_model_from_bytes", "check_messages"]

#: the largest ONNX file read (bytes); protobuf itself stops at 2 GiB
MAX_ONNX_BYTES = 1 << 30


def onnx_model_from_bytes(raw: bytes, source: str):
    """Parse and check an ONNX ``ModelProto``; :class:`ModelImportError` naming ``source``."""
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError:  # pragma: no cover - an optional dependency (extra "import")
        raise ModelImportError(f"{source}: reading ONNX needs the 'onnx' package "
                               "(pip install 'eie-sim[import]')") from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(raw)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelImportError(f"{source}: not an ONNX model ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not model.HasField("graph"):
        raise ModelImportError(f"{source}: not an ONNX model (no graph)")
    check_messages(model, source)      # before the checker, which looks for external files
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and friends
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelImportError(f"{source}: the ONNX checker refuses the model: {first}") from None
    return model


def check_messages(model, source: str) -> None:
    """Walk every message of the model once: refuse a tensor stored as external data
    anywhere (an initializer, a Constant's value, any attribute: ``onnx.numpy_helper``
    would open the file it names, relative to the working directory), and a string field
    holding invalid UTF-8 (protobuf's Python parser hands such a proto2 ``string`` back as
    ``bytes``, which no name comparison expects), naming the field."""
    from google.protobuf.descriptor import FieldDescriptor
    from onnx import TensorProto
    stack = [(model, "model")]
    while stack:
        msg, at = stack.pop()
        if isinstance(msg, TensorProto) and (msg.data_location == TensorProto.EXTERNAL
                                             or len(msg.external_data)):
            raise ModelImportError(f"{source}: tensor {msg.name!r} ({at}) is stored as external "
                                   "data; save the model as one file (onnx.save_model(..., "
                                   "save_as_external_data=False))")
        for fd, value in msg.ListFields():
            repeated = fd.is_repeated if hasattr(fd, "is_repeated") else \
                fd.label == FieldDescriptor.LABEL_REPEATED
            values = value if repeated else [value]
            if fd.type == FieldDescriptor.TYPE_STRING:
                if any(isinstance(v, bytes) for v in values):
                    raise ModelImportError(f"{source}: not an ONNX model ({at}.{fd.name} is not "
                                           "valid UTF-8 text)")
            elif fd.type == FieldDescriptor.TYPE_MESSAGE:
                stack.extend((v, f"{at}.{fd.name}") for v in values)


def read_onnx_model(path: str | pathlib.Path):
    """The checked ``ModelProto`` of the ONNX file ``path`` (:func:`onnx_model_from_bytes`)."""
    path = pathlib.Path(path)
    try:
        raw = read_regular_file(path, MAX_ONNX_BYTES, ModelImportError, "ONNX model")
    except FileNotFoundError:
        raise ModelImportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return onnx_model_from_bytes(raw, str(path))
