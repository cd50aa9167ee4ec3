"""The stand-in ``tensorrt`` modules refuse what the real bindings refuse (review rows S1-S12).

These test the stand-ins themselves, so that a test of edgeprof passing on them means something: each
behaviour here cites its real source where the stand-in implements it.
"""
import gc
import json
import os
import signal
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import core, engine_info, fixtures, native  # noqa: E402  (found through the path set just above)
from trt_standins.cuda_standin import StandinCuda, StickyCudaError  # noqa: E402
from trt_standins.fixtures import use_version  # noqa: E402

# the shared fixtures: pytest finds them by their names in this module
standin_checks, trt, trt10, trt82 = fixtures.standin_checks, fixtures.trt, fixtures.trt10, fixtures.trt82

BOUND_BASES = ("ILogger", "IProfiler", "IInt8EntropyCalibrator2")


class QuietLogger(core.ILogger):
    def __init__(self):
        core.ILogger.__init__(self)
        self.messages = []

    def log(self, severity, msg):
        self.messages.append((severity, msg))


# -- S1: nptype per TensorRT x numpy version ---------------------------------------------------------

@pytest.mark.parametrize("numpy_version,fails", [("1.19.5", False), ("1.24.4", True), ("1.26.4", True),
                                                 ("2.0.0", False)])
def test_nptype_of_8_2_fails_for_every_type_under_numpy_1_24_to_1_26(trt82, numpy_version, fails):
    core.STATE.numpy_version = numpy_version
    if fails:
        with pytest.raises(AttributeError, match="has no attribute 'bool'"):
            trt82.nptype(trt82.DataType.FLOAT)
    else:
        assert trt82.nptype(trt82.DataType.FLOAT).__name__ == "float32"


@pytest.mark.parametrize("name", ["BF16", "FP8", "INT4", "FP4"])
def test_nptype_of_10_has_no_numpy_type_for_bf16_fp8_int4_fp4(trt10, name):
    with pytest.raises(TypeError, match="Could not resolve TensorRT datatype"):
        trt10.nptype(getattr(trt10.DataType, name))
    assert trt10.nptype(trt10.DataType.INT64).__name__ == "int64"


def test_enum_members_are_objects_not_their_names(trt10):
    assert trt10.DataType.FLOAT != "FLOAT" and trt10.DataType.FLOAT.name == "FLOAT"
    assert str(trt10.DataType.BF16) == "DataType.BF16"


# -- S12: pybind11 base classes -------------------------------------------------------------------

@pytest.mark.parametrize("base", BOUND_BASES)
def test_a_subclass_that_skips_the_base_init_is_refused_as_pybind11_does(trt, base):
    cls = getattr(trt, base)

    class Forgetful(cls):
        def __init__(self):
            self.ready = True

    class Careful(cls):
        def __init__(self):
            cls.__init__(self)

    with pytest.raises(TypeError, match=r"tensorrt\.tensorrt\.%s\.__init__\(\) must be called when overriding "
                                        r"__init__" % base):
        Forgetful()
    Careful()


# -- S4: lifetimes against the CUDA context -----------------------------------------------------------

def test_a_tensorrt_object_dropped_outside_the_cuda_context_is_a_violation(trt):
    cuda = StandinCuda()
    with cuda.active():
        builder = trt.Builder(QuietLogger())
    del builder
    gc.collect()
    assert core.STATE.violations == ["Builder dropped with no live CUDA context current (none current)"]
    core.STATE.violations[:] = []


def test_a_tensorrt_object_made_outside_the_cuda_context_is_a_violation(trt):
    trt.Builder(QuietLogger())
    assert core.STATE.violations[0] == "Builder made with no live CUDA context current"
    core.STATE.violations[:] = []


def test_the_optimization_profile_keeps_its_builder_alive(trt):
    # reference_internal on create_optimization_profile (TRT 8.2 pyCore.cpp:829-830)
    cuda = StandinCuda()
    with cuda.active():
        builder = trt.Builder(QuietLogger())
        profile = builder.create_optimization_profile()
        del builder
        assert native.alive(core.BuilderBase) == 1
        del profile
        assert native.alive(core.BuilderBase) == 0


def test_cuda_streams_outliving_their_context_are_a_violation():
    cuda = StandinCuda()
    with cuda.active():
        stream = cuda.create_stream()
    cuda.close()
    del stream
    assert "freed after its context was detached" in core.STATE.violations[0]
    core.STATE.violations[:] = []


# -- S8: a sticky CUDA error ---------------------------------------------------------------------

def test_after_a_sticky_error_every_call_and_close_raise():
    cuda = StandinCuda()
    cuda.fail_sticky("an illegal memory access was encountered")
    with pytest.raises(StickyCudaError, match="cuCtxPushCurrent failed"):
        with cuda.active():
            pass
    with pytest.raises(StickyCudaError, match="cuMemFree failed"):
        cuda.close()


# -- S5: one logger on 8.0-8.3 ----------------------------------------------------------------------

@pytest.mark.parametrize("version,single", [("trt_7_1", True), ("trt_8_2", True), ("trt_10", False)])
def test_8_0_to_8_3_keep_the_first_logger_while_a_builder_lives_and_warn(monkeypatch, version, single):
    trt = use_version(monkeypatch, version)
    first, second = QuietLogger(), QuietLogger()
    cuda = StandinCuda()
    with cuda.active():
        builder = trt.Builder(first)
        runtime = trt.Runtime(second)
        assert runtime._logger is (first if single else second) and second.messages == []
        assert any("differs from one already provided" in m for _, m in first.messages) is single
        del builder, runtime


# -- S6: exceptions escaping callbacks ----------------------------------------------------------------

class RaisingLogger(core.ILogger):
    def __init__(self):
        core.ILogger.__init__(self)

    def log(self, severity, msg):
        raise KeyboardInterrupt()


def test_an_exception_escaping_a_callback_terminates_on_8_2(trt82):
    cuda = StandinCuda()
    with cuda.active():
        builder = trt82.Builder(RaisingLogger())
        with pytest.raises(native.Terminate, match="pybind11::error_already_set"):
            builder._log(core.Severity.INFO, "hello")
        del builder


def test_an_exception_escaping_a_callback_is_printed_and_swallowed_on_10(trt10, capsys):
    cuda = StandinCuda()
    with cuda.active():
        builder = trt10.Builder(RaisingLogger())
        builder._log(core.Severity.INFO, "hello")
        del builder
    assert "Exception caught in log()" in capsys.readouterr().err


def test_a_signal_during_a_build_runs_its_handler_in_the_next_callback(trt10):
    came = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: came.append(signum))
    try:
        core.STATE.pending_signal = signal.SIGUSR1
        native.call_back(native.SWALLOW, "log", lambda *args: None)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert came == [signal.SIGUSR1]


# -- S3, S7, S11: failure values -------------------------------------------------------------------------

def _config(trt, logger):
    builder = trt.Builder(logger)
    return builder, builder.create_builder_config()


def test_a_damaged_timing_cache_gives_none_and_logs_errors_without_raising(trt10):
    logger, cuda = QuietLogger(), StandinCuda()
    with cuda.active():
        builder, config = _config(trt10, logger)
        assert config.create_timing_cache(b"junk") is None
        assert [m for s, m in logger.messages if s == core.Severity.ERROR] == list(core.TIMING_CACHE_ERRORS)
        with pytest.raises(RuntimeError, match="Unable to cast"):
            config.set_timing_cache(None, False)
        del builder, config


def test_an_invalid_optimization_profile_gives_minus_one(trt):
    logger, cuda = QuietLogger(), StandinCuda()
    with cuda.active():
        builder, config = _config(trt, logger)
        profile = builder.create_optimization_profile()
        profile.set_shape("input", (4, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8))
        assert config.add_optimization_profile(profile) == -1
        assert "Optimization profile is invalid" in logger.messages[-1][1]
        del builder, config, profile


def test_set_tensor_address_gives_false_for_a_name_that_is_no_io_tensor(trt10):
    logger, cuda = QuietLogger(), StandinCuda()
    model = {"model": {"inputs": [["input", [-1, 3], "FLOAT"]], "outputs": [["out", [-1, 2], "FLOAT"]],
                       "layers": []}}
    with cuda.active():
        engine = trt10.ICudaEngine(model, logger, native.SWALLOW, 64)
        context = engine.create_execution_context()
        assert context.set_tensor_address("input", 0x1000) is True
        assert context.set_tensor_address("nonesuch", 0x1000) is False
        assert context.set_tensor_address("out", 0) is False
        del engine, context


def test_a_jetson_build_short_of_memory_warns_then_fails_with_error_code_10(trt10):
    logger, cuda = QuietLogger(), StandinCuda()
    core.STATE.faults["build_oom_jetson"] = True
    with cuda.active():
        builder, config = _config(trt10, logger)
        network = builder.create_network(0)
        network.model = {"inputs": [], "outputs": [], "layers": []}
        assert builder.build_serialized_network(network, config) is None
        del builder, config, network
    severities = [s for s, m in logger.messages if "insuf" in m]
    assert severities == [core.Severity.WARNING, core.Severity.WARNING]
    assert "Could not find any implementation" in logger.messages[-1][1]


def test_a_calibration_buffer_smaller_than_its_input_is_a_violation(trt10):
    # TensorRT reads each input's full volume at its pointer (8.2 pyInt8.cpp:39-50)
    cuda = StandinCuda()
    with cuda.active():
        builder, config = _config(trt10, QuietLogger())
        network = builder.create_network(0)
        network.model = {"inputs": [["input", [-1, 3, 8, 8], "FLOAT"]], "outputs": [], "layers": []}
        profile = builder.create_optimization_profile()
        profile.set_shape("input", (2, 3, 8, 8), (2, 3, 8, 8), (2, 3, 8, 8))
        config.add_optimization_profile(profile)
        config.set_flag(trt10.BuilderFlag.INT8)
        small = cuda.alloc(16)

        class OneBatch(trt10.IInt8EntropyCalibrator2):
            def __init__(self):
                trt10.IInt8EntropyCalibrator2.__init__(self)
                self.left = 1

            def get_batch_size(self):
                return 2

            def get_batch(self, names):
                self.left -= 1
                return [small] if self.left >= 0 else None

        config.int8_calibrator = OneBatch()
        assert builder._calibrate(network, config) == 1
        del builder, config, network, profile
    assert core.STATE.violations == ["calibration buffer of input input holds 16 bytes; TensorRT reads 1536"]
    core.STATE.violations[:] = []


# -- S2: the inspector's JSON --------------------------------------------------------------------------

def test_the_inspector_names_kernels_and_keeps_onnx_nodes_in_metadata():
    spec = {"model": {"inputs": [], "outputs": [], "layers": [["Gemm_48", "FullyConnected", 0.4]]}, "detailed": True}
    layers = {e["Name"]: e for e in json.loads(engine_info.inspector_json(spec, True))["Layers"]}
    assert layers["Gemm_48"]["LayerType"] == "CaskConvolution" and layers["Gemm_48"]["ParameterType"] == "Convolution"
    assert layers["Gemm_48"]["Metadata"] == "[ONNX Layer: Gemm_48]"
    assert layers["reshape_after_Gemm_48"]["LayerType"] == "NoOp"
    assert layers["Reformatting CopyNode for Input Tensor 0 to reshape_after_Gemm_48"]["LayerType"] == "Reformat"
    assert "FullyConnected" not in {e["LayerType"] for e in layers.values()}


def test_use_version_resets_the_state(monkeypatch):
    core.STATE.faults["build_oom"] = True
    use_version(monkeypatch, "trt_10")
    assert core.STATE.faults == {}
