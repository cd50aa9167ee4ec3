"""The TensorRT names edgeprof uses, as data, and :func:`detect_api`: the one place that looks at versions.

Two execution paths, told apart by feature detection:

- ``v8.2-bindings`` (TensorRT 7.1-8.4: JetPack 4.4/4.5 ship 7.1, JetPack 4.6 ships 8.2): binding
  indices, ``set_binding_shape``, ``execute_async_v2``; ``max_workspace_size`` before 8.4. Before
  8.0 there is no ``build_serialized_network`` (``build_engine`` + ``serialize``), no timing cache
  and no Python ``parse_from_file``; before 8.2 no engine inspector (layer types) and the
  detailed profiling verbosity is called ``VERBOSE``.
- ``v10-named-tensors`` (TensorRT 8.5-11): named IO tensors, ``set_input_shape``,
  ``set_tensor_address``, ``execute_async_v3``, ``set_memory_pool_limit``;
  ``create_network(0)`` where implicit batch is gone (10+).

tests/agent/test_tensorrt_names.py checks the tables below against name lists taken from the real
bindings of each version (tests/data/trt_names/). ``tensorrt`` is never imported here.
"""
import collections

from edgeprof.errors import BackendUnavailable

# -- TensorRT names, as data (checked against the real bindings by the tests) ---------------------

# Used on every path.
COMMON_NAMES = (
    "__version__", "ILogger", "ILogger.log", "ILogger.Severity.ERROR", "ILogger.Severity.INTERNAL_ERROR",
    "ILogger.Severity.WARNING", "Builder", "Builder.create_network", "Builder.create_builder_config",
    "Builder.create_optimization_profile", "NetworkDefinitionCreationFlag",
    "INetworkDefinition.num_inputs", "INetworkDefinition.get_input", "ITensor.name", "ITensor.shape",
    "OnnxParser", "OnnxParser.num_errors", "OnnxParser.get_error",
    "ParserError.desc", "ParserError.node",
    "IBuilderConfig.set_flag", "IBuilderConfig.add_optimization_profile", "IBuilderConfig.profiling_verbosity",
    "IOptimizationProfile.set_shape", "Runtime", "Runtime.deserialize_cuda_engine",
    "ICudaEngine.create_execution_context", "IExecutionContext.profiler", "IProfiler", "IProfiler.report_layer_time",
    # IO types, mapped to numpy by dtypes.py (never trt.nptype: it fails on 8.0-8.4 with numpy 1.24-1.26)
    "DataType.FLOAT", "DataType.HALF", "DataType.INT8", "DataType.INT32", "DataType.BOOL",
)

# Used by one execution path only; each path claims the TensorRT versions [low, high) it serves.
PATH_NAMES = {
    "v8.2-bindings": (
        "ICudaEngine.num_bindings", "ICudaEngine.binding_is_input", "ICudaEngine.get_binding_name",
        "ICudaEngine.get_binding_shape", "ICudaEngine.get_binding_dtype",
        "IExecutionContext.set_binding_shape", "IExecutionContext.get_binding_shape",
        "IExecutionContext.execute_async_v2", "IExecutionContext.execute_v2",
        "NetworkDefinitionCreationFlag.EXPLICIT_BATCH",
    ),
    "v10-named-tensors": (
        "ICudaEngine.num_io_tensors", "ICudaEngine.get_tensor_name", "ICudaEngine.get_tensor_mode",
        "ICudaEngine.get_tensor_shape", "ICudaEngine.get_tensor_dtype", "TensorIOMode.INPUT",
        "IExecutionContext.set_input_shape", "IExecutionContext.get_tensor_shape",
        "IExecutionContext.set_tensor_address", "IExecutionContext.execute_async_v3",
    ),
}
PATH_VERSIONS = {"v8.2-bindings": ((7, 1), (8, 5)), "v10-named-tensors": ((8, 5), (12, 0))}

# Features with alternatives: every supported version has at least one alternative complete.
FEATURES = {
    "workspace": (("IBuilderConfig.set_memory_pool_limit", "MemoryPoolType.WORKSPACE"),
                  ("IBuilderConfig.max_workspace_size",)),
    "build": (("Builder.build_serialized_network",), ("Builder.build_engine", "ICudaEngine.serialize")),
    "engine_memory": (("ICudaEngine.device_memory_size_v2",), ("ICudaEngine.device_memory_size",)),
    "parse": (("OnnxParser.parse_from_file",), ("OnnxParser.parse",)),
    "layer_verbosity": (("ProfilingVerbosity.DETAILED",), ("ProfilingVerbosity.VERBOSE",)),
}

# Precisions beyond fp32; TensorRT 11 builds strongly typed networks only and has none of these.
PRECISION_NAMES = {
    "fp16": ("BuilderFlag.FP16",),
    "int8": ("BuilderFlag.INT8", "IBuilderConfig.int8_calibrator", "IInt8EntropyCalibrator2",
             "IInt8EntropyCalibrator2.get_batch_size", "IInt8EntropyCalibrator2.get_batch",
             "IInt8EntropyCalibrator2.read_calibration_cache", "IInt8EntropyCalibrator2.write_calibration_cache",
             "INetworkDefinition.num_layers", "INetworkDefinition.get_layer", "ILayer.num_outputs",
             "ILayer.get_output", "ITensor.set_dynamic_range", "ITensor.dtype", "ILayer.type"),
}
PRECISION_VERSIONS = ((7, 1), (11, 0))

# Used only behind hasattr(): present in some supported versions, not all.
OPTIONAL_NAMES = ("Builder.platform_has_fast_fp16", "Builder.platform_has_fast_int8",
                  "IBuilderConfig.set_calibration_profile", "ParserError.node_name",
                  # timing cache (8.0+) and engine inspector (8.2+): skipped where absent
                  "IBuilderConfig.create_timing_cache", "IBuilderConfig.set_timing_cache",
                  "IBuilderConfig.get_timing_cache", "ITimingCache.serialize",
                  "ICudaEngine.create_engine_inspector", "EngineInspector.get_engine_information",
                  "LayerInformationFormat.JSON",
                  # IO types of newer versions (UINT8 8.5+, INT64 9.0+); Q/DQ layers (8.0+); TF32 state
                  "DataType.UINT8", "DataType.INT64", "LayerType.QUANTIZE", "LayerType.DEQUANTIZE",
                  "BuilderFlag.TF32", "IBuilderConfig.get_flag")
TIMING_CACHE_UNAVAILABLE = "unavailable in this TensorRT"

# What detect_api found; a misspelt field fails at once (AttributeError), not only on its code path.
Api = collections.namedtuple("Api", (
    "name",                 # 'v8.2-bindings' or 'v10-named-tensors'
    "named_tensors",        # named IO tensors (set_input_shape, execute_async_v3), else binding indices
    "memory_pool",          # set_memory_pool_limit, else max_workspace_size
    "serialized_build",     # build_serialized_network, else build_engine + serialize
    "explicit_batch_flag",  # create_network needs EXPLICIT_BATCH: implicit batch still exists
    "engine_memory_attr",   # the ICudaEngine attribute with its device memory size
    "fp16",                 # the FP16 builder flag exists
    "int8",                 # the INT8 builder flag and IInt8EntropyCalibrator2 exist
    "timing_cache",         # a timing cache (8.0+)
    "parse_from_file",      # OnnxParser.parse_from_file (8.0+ Python bindings), else parse of the bytes
    "layer_verbosity",      # the ProfilingVerbosity member for per-layer names: DETAILED, or VERBOSE before 8.2
))


def detect_api(trt):
    """How to drive this ``tensorrt`` module: the one place that looks at version differences.

    Returns:
        Api: what this version has (each field is described where :data:`Api` is defined).
    """
    context = trt.IExecutionContext
    named = hasattr(context, "execute_async_v3") and hasattr(context, "set_input_shape")
    if not named and not hasattr(context, "execute_async_v2"):
        raise BackendUnavailable("TensorRT %s has neither execute_async_v3 nor execute_async_v2; "
                                 "edgeprof supports TensorRT 7.1 to 11" % getattr(trt, "__version__", "?"))
    engine = trt.ICudaEngine
    return Api(
        name="v10-named-tensors" if named else "v8.2-bindings",
        named_tensors=named,
        memory_pool=hasattr(trt.IBuilderConfig, "set_memory_pool_limit"),
        serialized_build=hasattr(trt.Builder, "build_serialized_network"),
        explicit_batch_flag=(hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH")
                             and hasattr(engine, "num_bindings")),
        engine_memory_attr=("device_memory_size_v2" if hasattr(engine, "device_memory_size_v2")
                            else "device_memory_size"),
        fp16=hasattr(trt.BuilderFlag, "FP16"),
        int8=hasattr(trt.BuilderFlag, "INT8") and hasattr(trt, "IInt8EntropyCalibrator2"),
        timing_cache=hasattr(trt.IBuilderConfig, "create_timing_cache"),
        parse_from_file=hasattr(trt.OnnxParser, "parse_from_file"),
        layer_verbosity="DETAILED" if hasattr(trt.ProfilingVerbosity, "DETAILED") else "VERBOSE",
    )

