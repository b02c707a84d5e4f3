"""The ``nasbench.ModelMetrics`` protobuf message, built at runtime (no ``protoc``, no TensorFlow).

Schema (``model_metrics.proto`` of google-research/nasbench, package ``nasbench``, proto2)::

    message ModelMetrics   { repeated EvaluationData evaluation_data = 1;
                             optional int32  trainable_parameters = 2;
                             optional double total_time = 3; }
    message EvaluationData { optional double current_epoch = 1;  optional double training_time = 2;
                             optional double train_accuracy = 3; optional double validation_accuracy = 4;
                             optional double test_accuracy = 5;  optional string checkpoint_path = 6; }

The classes come from a private descriptor pool, so they never clash with another copy of the
schema; with protobuf's default upb backend parsing one record takes about a microsecond.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "nasbench"
FILE_NAME = "nasbench/model_metrics.proto"

_F = descriptor_pb2.FieldDescriptorProto
EVALUATION_FIELDS = (
    ("current_epoch", 1, _F.TYPE_DOUBLE),
    ("training_time", 2, _F.TYPE_DOUBLE),
    ("train_accuracy", 3, _F.TYPE_DOUBLE),
    ("validation_accuracy", 4, _F.TYPE_DOUBLE),
    ("test_accuracy", 5, _F.TYPE_DOUBLE),
    ("checkpoint_path", 6, _F.TYPE_STRING),
)


def file_descriptor_proto() -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto equivalent to ``model_metrics.proto``."""
    fdp = descriptor_pb2.FileDescriptorProto(name=FILE_NAME, package=PACKAGE, syntax="proto2")
    ev = fdp.message_type.add(name="EvaluationData")
    for name, number, ftype in EVALUATION_FIELDS:
        ev.field.add(name=name, number=number, type=ftype, label=_F.LABEL_OPTIONAL)
    mm = fdp.message_type.add(name="ModelMetrics")
    mm.field.add(name="evaluation_data", number=1, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                 type_name=f".{PACKAGE}.EvaluationData")
    mm.field.add(name="trainable_parameters", number=2, type=_F.TYPE_INT32, label=_F.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=_F.TYPE_DOUBLE, label=_F.LABEL_OPTIONAL)
    return fdp


@functools.lru_cache(maxsize=1)
def model_metrics_class() -> Any:
    """The ``nasbench.ModelMetrics`` message class (its ``evaluation_data`` entries are built with
    ``msg.evaluation_data.add(...)``, so ``EvaluationData`` needs no class of its own here)."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor_proto())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.ModelMetrics"))
