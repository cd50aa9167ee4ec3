"""The TensorRT backend against stand-in ``tensorrt`` modules (7.1, 8.2 and 10.x names) and a stand-in CUDA layer.

These test edgeprof's orchestration (which calls, with which values, caching, failure
paths), not TensorRT itself: see docs/tensorrt.md for what ran on real TensorRT (nothing here).
"""
import json
import os
import sys
import threading

import pytest

from edgeprof.agent import backends
from edgeprof.agent.backends import tensorrt as trt_backend
from edgeprof.agent.backends.tensorrt import cache as trt_cache
from edgeprof.agent.backends.tensorrt import cuda as cuda_layer
from edgeprof.agent.backends.tensorrt import layers as trt_layers
from edgeprof.agent.backends.tensorrt import session as trt_session
from edgeprof.errors import (
    BackendUnavailable,
    EdgeprofError,
    InputFileError,
    OutOfMemory,
    UsageError,
)

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import core, engine_info, fixtures  # noqa: E402  (found through the path set just above)
from trt_standins.cuda_standin import D2H_MS, EVENT_MS, H2D_MS  # noqa: E402
from trt_standins.fixtures import built, calls_named, open_session  # noqa: E402

# the shared fixtures: pytest finds them by their names in this module
(gpu, model, options, standin_checks, trt, trt10, trt71, trt82, trt_timing) = (
    fixtures.gpu, fixtures.model, fixtures.options, fixtures.standin_checks, fixtures.trt, fixtures.trt10,
    fixtures.trt71, fixtures.trt82, fixtures.trt_timing)


# -- availability ----------------------------------------------------------------------------------

def test_available_says_why_when_tensorrt_is_not_importable(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    reason = trt_backend.TensorRTBackend().unavailable_reason()
    assert reason.startswith("TensorRT Python bindings not importable (")
    assert "python3-libnvinfer" in reason and "\n" not in reason


def test_choosing_tensorrt_without_it_raises_backend_unavailable_with_the_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(BackendUnavailable, match="TensorRT Python bindings not importable"):
        backends.choose("tensorrt", is_jetson=True)


def test_available_needs_a_cuda_layer_too(trt, monkeypatch):
    monkeypatch.setattr(cuda_layer, "unavailable_reason", lambda: "no CUDA Python layer (...)")
    assert trt_backend.TensorRTBackend().unavailable_reason() == "no CUDA Python layer (...)"


def test_version_is_the_bindings_version(trt):
    assert trt_backend.TensorRTBackend().version() == trt.__version__


# -- API paths per version ------------------------------------------------------------------------

def test_tensorrt_8_2_uses_bindings_explicit_batch_and_max_workspace_size(trt82, gpu, model, options):
    session = open_session(model, options=dict(options, workspace_mb=256))
    session.run()
    assert session.describe()["api"] == "v8.2-bindings"
    assert "Builder.create_network(1)" in core.STATE.calls
    assert "IBuilderConfig.max_workspace_size=%d" % (256 << 20) in core.STATE.calls
    assert "IExecutionContext.set_binding_shape(0,(4, 3, 8, 8))" in core.STATE.calls
    assert calls_named("IExecutionContext.execute_async_v2")
    assert not calls_named("IExecutionContext.execute_async_v3")
    session.close()


def test_tensorrt_7_1_builds_with_build_engine_and_serialize(trt71, gpu, model, options):
    session = open_session(model, options=dict(options, workspace_mb=256))
    session.run()
    assert session.describe()["api"] == "v8.2-bindings"
    assert calls_named("Builder.build_engine") and calls_named("ICudaEngine.serialize")
    assert not calls_named("Builder.build_serialized_network")
    session.close()


def test_tensorrt_7_1_skips_the_timing_cache_and_says_so(trt71, gpu, model, options):
    session = open_session(model, options=options)
    assert not calls_named("IBuilderConfig.create_timing_cache")
    assert session.describe()["timing_cache"] == "unavailable in this TensorRT"
    assert not [f for f in os.listdir(options["cache_dir"]) if f.startswith("timing-")]
    session.close()


def test_tensorrt_7_1_uses_max_workspace_size_bindings_and_execute_async_v2(trt71, gpu, model, options):
    session = open_session(model, options=dict(options, workspace_mb=256))
    session.run()
    assert "Builder.create_network(1)" in core.STATE.calls
    assert "IBuilderConfig.max_workspace_size=%d" % (256 << 20) in core.STATE.calls
    assert "IExecutionContext.set_binding_shape(0,(4, 3, 8, 8))" in core.STATE.calls
    assert calls_named("IExecutionContext.execute_async_v2")
    session.close()


def test_tensorrt_7_1_parses_the_file_bytes_without_parse_from_file(trt71, gpu, model, options):
    open_session(model, options=options).close()
    assert calls_named("OnnxParser.parse(") and not calls_named("OnnxParser.parse_from_file")


def test_tensorrt_7_1_layers_use_verbose_profiling_and_name_fc_layers_without_an_inspector(
        trt71, gpu, model, options):
    session = open_session(model, options=dict(options, layers=True))
    session.run()
    rows = {row["name"]: row for row in session.describe()["layer_times_ms"]}
    assert rows["Gemm_48"]["fc"] is True and rows["Gemm_48"]["type"] is None
    assert rows["reshape_after_Gemm_48"]["fc"] is False
    assert rows["Reformatting CopyNode for Input Tensor 0 to reshape_after_Gemm_48"]["fc"] is False
    session.close()


def test_newer_versions_keep_a_timing_cache_file_per_device(trt82, gpu, model, options):
    session = open_session(model, options=options)
    assert session.describe()["timing_cache"].endswith(".cache")
    assert calls_named("IBuilderConfig.create_timing_cache")
    session.close()


def test_tensorrt_10_uses_named_tensors_network_flags_0_and_memory_pool(trt10, gpu, model, options):
    session = open_session(model, options=dict(options, workspace_mb=256))
    session.run()
    assert session.describe()["api"] == "v10-named-tensors"
    assert "Builder.create_network(0)" in core.STATE.calls
    assert "IBuilderConfig.set_memory_pool_limit(WORKSPACE,%d)" % (256 << 20) in core.STATE.calls
    assert "IExecutionContext.set_input_shape(input,(4, 3, 8, 8))" in core.STATE.calls
    assert calls_named("IExecutionContext.set_tensor_address(input)")
    assert calls_named("IExecutionContext.set_tensor_address(logits)")
    assert calls_named("IExecutionContext.execute_async_v3")
    assert not calls_named("IExecutionContext.execute_async_v2")
    session.close()


def test_the_workspace_is_always_set_even_without_the_option(trt, gpu, model, options):
    open_session(model, options=options).close()
    expected = str(trt_backend.DEFAULT_WORKSPACE_MB << 20)
    assert [c for c in core.STATE.calls if c.startswith("IBuilderConfig.") and expected in c]


def test_the_profile_has_min_opt_max_equal_to_the_batch(trt, gpu, model, options):
    open_session(model, batch=8, options=options).close()
    assert "IOptimizationProfile.set_shape(input,(8, 3, 8, 8),(8, 3, 8, 8),(8, 3, 8, 8))" in core.STATE.calls


def test_a_model_with_a_fixed_batch_is_refused_for_another_batch(trt, gpu, tmp_path, options):
    fixed = core.write_model(str(tmp_path / "fixed.onnx"), inputs=[["input", [1, 3, 8, 8], "FLOAT"]])
    with pytest.raises(InputFileError, match="fixed batch of 1; export with a dynamic batch axis"):
        open_session(fixed, batch=2, options=options)


# -- timing, memory, describe ---------------------------------------------------------------------

def test_device_times_are_empty_outside_a_window_and_per_run_after_one(trt, gpu, model, options):
    session = open_session(model, options=options)
    session.run()  # a warm-up run: timed by nobody
    assert session.device_times() == {}
    session.start_device_window(2)
    session._ring = session._ring[:2]  # a window that outruns its ring (RING_MIN_RUNS keeps it from happening)
    for _ in range(3):
        session.run()
    times = session.device_times()
    # the stand-in GPU clock: one input copy, one enqueued inference, one output copy per run
    assert times["h2d_ms"] == [H2D_MS] * 3 and times["compute_ms"] == [EVENT_MS] * 3
    assert times["d2h_ms"] == [D2H_MS] * 3 and len(times["enqueue_ms"]) == 3
    assert all(t >= 0 for t in times["enqueue_ms"])
    assert session.device_times() == {}  # read once
    assert session.describe()["device_times_read_in_window"] == 1  # 3 runs in a ring of 2: one read early
    session.close()


def test_the_window_s_events_are_made_before_it_and_each_run_only_records_them(trt, gpu, model, options):
    session = open_session(model, options=options)
    layer = gpu[-1]
    session.start_device_window(500)
    made = len(session._ring)
    session.run()
    session.run()
    assert made == 500 and len(session._ring) == 500
    events = [e for slot in session._ring[:2] for e in slot]
    assert all(e.recorded for e in events) and not any(e.recorded for e in session._ring[2])
    assert [e.waited for e in session._ring[0]] == [0, 0, 0, 1]  # the host waits on the last event only
    assert all(e.blocking for e in events) and layer.sync == "blocking"
    del events  # the test's own references: pycuda would free them after the context (the stand-in says so)
    session.device_times()
    session.close()


def test_cuda_sync_spin_is_passed_to_the_cuda_layer_and_recorded(trt, gpu, model, options):
    session = open_session(model, options=dict(options, cuda_sync="spin"))
    assert gpu[-1].sync == "spin" and session.describe()["cuda_sync"] == "spin"
    assert not session._ring[0][0].blocking
    session.close()
    session = open_session(model, options=options)
    assert session.describe()["cuda_sync"] == "blocking"
    session.close()


def test_a_run_copies_inputs_in_and_outputs_out(trt, gpu, model, options):
    session = open_session(model, options=options)
    session.run()
    kinds = [kind for kind, _ in gpu[-1].copies]
    assert kinds == ["htod", "dtoh"]
    session.close()


def test_memory_reports_engine_device_and_file_bytes(trt, gpu, model, options):
    session = open_session(model, batch=2, options=options)
    memory = session.memory()
    assert memory["engine_device_bytes"] == 4 << 20
    assert memory["engine_file_bytes"] > 0
    assert memory["io_device_bytes"] == 2 * 3 * 8 * 8 * 4 + 2 * 10 * 4
    session.close()


def test_runtime_bytes_include_the_engines_weights_and_the_measured_delta_agrees(trt, gpu, model, options):
    # finding 10: getDeviceMemorySize is the context's activations only; the weights (about the plan) come on top
    session = open_session(model, batch=2, options=options)
    memory = session.memory()
    assert memory["runtime_bytes"] == (memory["engine_device_bytes"] + memory["engine_file_bytes"]
                                       + memory["io_device_bytes"])
    assert memory["device_free_delta_bytes"] == memory["runtime_bytes"]  # the stand-in's weights are its plan
    assert "engine_file_bytes (the plan" in session.describe()["runtime_bytes_basis"]
    session.close()


def test_describe_holds_build_settings_versions_and_the_cache_key(trt, gpu, model, options):
    session = open_session(model, options=options)
    facts = session.describe()
    for field in ("tensorrt_version", "cuda_version", "gpu_name", "compute_capability", "workspace_mb",
                  "precision", "int8_calibration", "build_seconds", "cache_key", "cache_hit", "api"):
        assert field in facts
    assert facts["tensorrt_version"] == trt.__version__ and facts["compute_capability"] == "5.3"
    assert facts["cache_hit"] is False and facts["int8_calibration"] is None
    session.close()


def test_runs_from_another_thread_happen_inside_the_cuda_context(trt, gpu, model, options):
    session = open_session(model, options=options)
    errors = []

    def worker():
        try:
            session.start_device_window(1)
            session.run()
            session.device_times()
        except (AssertionError, EdgeprofError) as exc:  # collected for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors == []
    session.close()


def test_close_frees_the_cuda_layer_and_is_safe_twice(trt, gpu, model, options):
    session = open_session(model, options=options)
    session.close()
    session.close()
    assert gpu[-1].closed and gpu[-1].memory == {}


# -- engine cache ---------------------------------------------------------------------------------

def test_a_second_open_loads_the_cached_engine_without_building(trt, gpu, model, options):
    open_session(model, options=options).close()
    core.STATE.calls[:] = []
    session = open_session(model, options=options)
    assert session.describe()["cache_hit"] is True
    assert not built()
    session.close()


def test_rebuild_forces_a_build(trt, gpu, model, options):
    open_session(model, options=options).close()
    core.STATE.calls[:] = []
    session = open_session(model, options=dict(options, rebuild=True))
    assert built() and session.describe()["cache_hit"] is False
    session.close()


BASE_FIELDS = {"model_sha256": "ab" * 32, "trt_version": "8.2.1.8", "gpu_name": "Xavier", "compute_capability": "7.2",
               "precision": "fp16", "batch": 4, "workspace_mb": 1024, "int8_calibration": None, "layers": False}


@pytest.mark.parametrize("field,value", [
    ("model_sha256", "cd" * 32), ("trt_version", "8.2.3.0"), ("gpu_name", "Orin"), ("compute_capability", "8.7"),
    ("precision", "int8"), ("batch", 8), ("workspace_mb", 512), ("int8_calibration", "entropy2"), ("layers", True)])
def test_the_cache_key_changes_with_every_field(field, value):
    changed = dict(BASE_FIELDS, **{field: value})
    assert (trt_cache.cache_key(trt_cache.cache_fields(**changed))
            != trt_cache.cache_key(trt_cache.cache_fields(**BASE_FIELDS)))


def the_engine_file(options):
    names = [n for n in os.listdir(options["cache_dir"]) if n.endswith(".engine")]
    assert len(names) == 1
    return os.path.join(options["cache_dir"], names[0])


def test_a_foreign_engine_under_the_same_name_is_rebuilt_not_loaded(trt, gpu, model, options):
    open_session(model, options=options).close()
    path = the_engine_file(options)
    fields = trt_cache.cache_fields("ef" * 32, "7.1.3", "other GPU", "6.2", "fp32", 4, 1024, None, False)
    trt_cache.write_cached_engine(path, trt_cache.cache_key(fields), fields, b"foreign", {"seconds": 1.0})
    core.STATE.calls[:] = []
    session = open_session(model, options=options)
    assert built() and session.describe()["cache_hit"] is False
    session.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bad engine bytes"])
def test_a_corrupt_cache_file_is_rebuilt_not_a_crash(trt, gpu, model, options, damage):
    open_session(model, options=options).close()
    path = the_engine_file(options)
    with open(path, "rb") as f:
        data = f.read()
    if damage == "garbage":
        data = b"\x00\x01 not an engine"
    elif damage == "truncated":
        data = data[:-10]
    else:
        magic, header, _ = data.split(b"\n", 2)
        fields = json.loads(header.decode("utf-8"))
        fields["engine_bytes"] = 5
        data = magic + b"\n" + json.dumps(fields).encode("utf-8") + b"\n" + b"XXXXX"
    with open(path, "wb") as f:
        f.write(data)
    core.STATE.calls[:] = []
    session = open_session(model, options=options)
    session.run()
    assert built()
    assert session.describe()["cache_hit"] is False
    session.close()


def test_the_timing_cache_is_saved_after_a_build_and_fed_to_the_next(trt_timing, gpu, model, options):
    open_session(model, batch=1, options=options).close()
    timing = [n for n in os.listdir(options["cache_dir"]) if n.startswith("timing-")]
    assert timing == ["timing-nvidia-tegra-x1-stand-in-sm53-trt%s.cache" % trt_timing.__version__]
    core.STATE.calls[:] = []
    open_session(model, batch=2, options=options).close()
    assert "IBuilderConfig.create_timing_cache(%d bytes)" % len(core.TIMING_MAGIC + b"device-tactics") \
        in core.STATE.calls


def test_a_corrupt_timing_cache_starts_a_new_one_with_a_warning(trt_timing, gpu, model, options):
    open_session(model, batch=1, options=options).close()
    timing = os.path.join(options["cache_dir"],
                          next(n for n in os.listdir(options["cache_dir"]) if n.startswith("timing-")))
    with open(timing, "wb") as f:
        f.write(b"rubbish")
    session = open_session(model, batch=2, options=options)
    assert any("timing cache" in w and "unreadable" in w for w in session.describe()["warnings"])
    session.close()


# -- failures --------------------------------------------------------------------------------------

def test_out_of_memory_while_building_raises_out_of_memory_with_the_builders_message(trt, gpu, model, options):
    core.STATE.faults["build_oom"] = True
    with pytest.raises(OutOfMemory, match="OutOfMemory") as info:
        open_session(model, batch=64, options=options)
    assert "batch 64" in str(info.value)
    assert gpu[-1].closed


def test_no_memory_for_the_execution_context_raises_out_of_memory(trt, gpu, model, options):
    core.STATE.faults["context_oom"] = True
    with pytest.raises(OutOfMemory, match="execution context at batch 4"):
        open_session(model, options=options)


def test_a_parser_error_names_the_onnx_node_index_on_8_2(trt82, gpu, model, options):
    core.STATE.faults["parse_fail_node"] = (7, "Fancy_7")
    with pytest.raises(InputFileError, match=r"at node 7: No importer registered for op: FancyOp"):
        open_session(model, options=options)


def test_a_parser_error_names_the_onnx_node_by_name_on_10(trt10, gpu, model, options):
    core.STATE.faults["parse_fail_node"] = (7, "Fancy_7")
    with pytest.raises(InputFileError, match=r"at node 7 \(Fancy_7\): No importer registered"):
        open_session(model, options=options)


# -- precisions ------------------------------------------------------------------------------------

def test_fp16_sets_the_fp16_flag(trt, gpu, model, options):
    open_session(model, precision="fp16", options=options).close()
    assert "IBuilderConfig.set_flag(FP16)" in core.STATE.calls


def test_fp16_without_fast_fp16_is_refused(trt, gpu, model, options):
    core.STATE.fast_fp16 = False
    with pytest.raises(UsageError, match="no fast fp16.*--precision fp32"):
        open_session(model, precision="fp16", options=options)


def test_fp16_without_the_builder_flag_says_strongly_typed_only(trt10, gpu, model, options, monkeypatch):
    monkeypatch.delattr(trt10.BuilderFlag, "FP16")
    with pytest.raises(UsageError, match="strongly typed networks only"):
        open_session(model, precision="fp16", options=options)


def test_int8_without_calibration_sets_placeholder_ranges_marked_timing_only(trt, gpu, model, options):
    session = open_session(model, precision="int8", options=options)
    assert "IBuilderConfig.set_flag(INT8)" in core.STATE.calls
    assert "ITensor.set_dynamic_range(input,-4,4)" in core.STATE.calls
    assert "timing only, accuracy meaningless" in session.describe()["int8_calibration"]
    session.close()


def test_int8_on_a_gpu_without_fast_int8_warns(trt, gpu, model, options):
    core.STATE.fast_int8 = False
    session = open_session(model, precision="int8", options=options)
    assert any("no fast int8" in w for w in session.describe()["warnings"])
    session.close()


def test_int8_with_a_calibration_folder_feeds_the_calibrator_full_batches(trt, gpu, model, options, tmp_path):
    numpy = pytest.importorskip("numpy")
    calib = tmp_path / "calib"
    calib.mkdir()
    for index in range(3):
        numpy.save(str(calib / ("img%d.npy" % index)), numpy.ones((2, 3, 8, 8), numpy.float32) * index)
    session = open_session(model, batch=2, precision="int8", options=dict(options, calib_dir=str(calib)))
    assert "calibrated 3 batches" in core.STATE.calls
    assert "IBuilderConfig.set_calibration_profile" in core.STATE.calls
    assert session.describe()["int8_calibration"].startswith("entropy2 over 3 files from ")
    assert not calls_named("ITensor.set_dynamic_range")
    session.close()


@pytest.mark.parametrize("bad", [b"not an npy file", "shape"])
def test_a_bad_calibration_file_fails_the_build_naming_it(trt, gpu, model, options, tmp_path, bad):
    numpy = pytest.importorskip("numpy")
    calib = tmp_path / "calib"
    calib.mkdir()
    numpy.save(str(calib / "a.npy"), numpy.ones((2, 3, 8, 8), numpy.float32))
    if bad == "shape":
        numpy.save(str(calib / "b.npy"), numpy.ones((2, 3, 9, 9), numpy.float32))
    else:
        (calib / "b.npy").write_bytes(bad)
    with pytest.raises(InputFileError, match="b.npy: "):
        open_session(model, batch=2, precision="int8", options=dict(options, calib_dir=str(calib)))
    assert not calls_named("calibrator raised")


def test_int8_with_an_empty_calibration_folder_says_so(trt, gpu, model, options, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="holds no .npy"):
        open_session(model, precision="int8", options=dict(options, calib_dir=str(tmp_path / "empty")))


# -- per-layer timing ------------------------------------------------------------------------------

def test_layers_reports_per_layer_times_types_and_the_fc_share(trt, gpu, model, options):
    session = open_session(model, options=dict(options, layers=True))
    session.run()
    facts = session.describe()
    rows = {row["name"]: row for row in facts["layer_times_ms"]}
    inspector = hasattr(trt.ICudaEngine, "create_engine_inspector")
    assert rows["Gemm_48"] == {"name": "Gemm_48", "type": "CaskConvolution" if inspector else None,
                               "parameter_type": "Convolution" if inspector else None, "mean_ms": 0.4, "fc": True}
    assert rows["Conv_0 + Relu_1"]["fc"] is False
    assert [name for name, row in rows.items() if row["fc"]] == ["Gemm_48"]
    assert facts["fc_share"] == round(0.4 / (0.5 + 0.1 + 0.4 + engine_info.REFORMAT_MS), 4)
    assert facts["layer_profile_runs"] == trt_session.LAYER_PROFILE_RUNS
    session.close()


def test_layer_timing_runs_on_the_sessions_context_and_detaches_its_profiler(trt, gpu, model, options):
    # TensorRT gives optimization profile 0 only to the first context: a second one could not run.
    session = open_session(model, options=dict(options, layers=True))
    assert len(session.describe()["layer_times_ms"]) == 6  # with the FC layer's reshapes and reformat
    assert len(calls_named("ICudaEngine.create_execution_context")) == 1
    assert session._context.profiler is None
    session.run()
    session.close()


def test_a_failed_layer_profile_is_recorded_not_raised(trt, gpu, model, options, monkeypatch):
    session = open_session(model, options=dict(options, layers=True))
    name = "execute_async_v3" if hasattr(trt.IExecutionContext, "execute_async_v3") else "execute_v2"
    monkeypatch.setattr(type(session._context), name, lambda *args: False)  # not the instance: it must go
    facts = session.describe()
    assert facts["layer_times_ms"] is None and "TensorRT failed" in facts["layer_times_error"]
    session.close()


def test_without_layers_there_is_no_layer_table(trt, gpu, model, options):
    session = open_session(model, options=options)
    assert "layer_times_ms" not in session.describe()
    session.close()


@pytest.mark.parametrize("name,entry,expected", [
    # without an inspector entry (7.1, or no detailed verbosity): the ONNX node names in the layer name
    ("Gemm_45", None, True), ("/classifier/MatMul", None, True), ("fc1 + relu", None, True),
    ("Conv_0", None, False), ("offcut_conv", None, False),
    ("reshape_after_Gemm_48", None, False), ("Reformatting CopyNode for Input Tensor 0 to reshape_after_Gemm_48",
                                             None, False),
    ("{ForeignNode[/features/Conv.../fc/Gemm]}", None, False),
    # with one, as real engines write them (TREx example graph.json)
    ("dense", {"LayerType": "CaskGemmMatrixMultiply", "ParameterType": "MatrixMultiply"}, True),
    ("x", {"ParameterType": "FullyConnected"}, True),
    ("Gemm_48", {"LayerType": "CaskConvolution", "ParameterType": "Convolution",
                 "Metadata": "[ONNX Layer: Gemm_48]"}, True),
    ("classifier.1", {"LayerType": "CaskConvolution", "ParameterType": "Convolution",
                      "Metadata": "[ONNX Layer: /classifier/classifier.1/Gemm]"}, True),
    ("Conv_0 + Relu_1", {"LayerType": "CaskConvolution", "ParameterType": "Convolution",
                         "Metadata": "[ONNX Layer: Conv_0]\x1e[ONNX Layer: Relu_1]"}, False),
    ("reshape_after_Gemm_48", {"LayerType": "NoOp", "Metadata": "[ONNX Layer: Gemm_48]"}, False),
    ("Reformatting CopyNode for Input Tensor 0 to reshape_after_Gemm_48",
     {"LayerType": "Reformat", "ParameterType": "Reformat"}, False)])
def test_fc_layers_are_recognised_by_parameter_type_then_onnx_nodes(name, entry, expected):
    assert trt_layers.is_fc_layer(name, entry) is expected


# -- end to end through the sweep --------------------------------------------------------------------

def test_a_sweep_with_the_tensorrt_backend_writes_engine_facts_into_the_profile(trt, gpu, tmp_path):
    import shutil

    import yaml

    from edgeprof import cli
    from edgeprof.records.profile import load

    tiny = str(tmp_path / "tiny.onnx")
    shutil.copy(os.path.join(os.path.dirname(HERE), "data", "tiny.onnx"), tiny)
    core.STATE.sidecar = core.write_model(tiny + ".standin.json", inputs=[["input", [-1, 3, 32, 32], "FLOAT"]])
    rc = cli.main(["sweep", "--backend", "tensorrt", "--models", tiny, "--out", str(tmp_path / "profiles"),
                   "--batch", "1,2", "--min-seconds", "0.02", "--min-runs", "3", "--warmup-seconds", "0.01",
                   "--warmup-runs", "1", "--power", "none", "--idle-seconds", "0.01",
                   "--engine-cache", str(tmp_path / "cache"), "--layers", "--precision", "int8"])
    assert rc == 0
    (path,) = [os.path.join(d, f) for d, _, files in os.walk(str(tmp_path / "profiles")) for f in files
               if f.endswith(".yaml")]
    profile = load(path)
    with open(path) as f:
        assert yaml.safe_load(f)["backend"]["name"] == "tensorrt"
    runs = profile["runs"]
    assert [r["batch"] for r in runs] == [1, 2] and all(r["status"] == "ok" for r in runs)
    assert runs[1]["device_time_ms"]["median"] == EVENT_MS
    assert runs[1]["h2d_ms"]["median"] == H2D_MS and runs[1]["d2h_ms"]["median"] == D2H_MS
    assert runs[1]["device_latency_ms"]["median"] == pytest.approx(H2D_MS + EVENT_MS + D2H_MS)
    # how many runs outran the event ring depends on the warm-up's pace on this machine: counted, never lost
    assert runs[1]["backend"]["cuda_sync"] == "blocking" and runs[1]["backend"]["device_times_read_in_window"] >= 0
    assert runs[1]["memory"]["engine_device_bytes"] == 4 << 20
    facts = runs[1]["backend"]
    # the sweep's first pass built the engine before any timed window; the measured open loads it
    assert facts["api"] in ("v8.2-bindings", "v10-named-tensors") and facts["cache_hit"] is True
    assert facts["first_open_s"] is not None and facts["build_seconds"] is not None
    assert "timing only" in facts["int8_calibration"] and facts["fc_share"] == round(0.4 / 1.05, 4)
