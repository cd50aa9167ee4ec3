"""IO types, buffers and the facts a run records (findings 1, 12, 13, 16, 18, 19, 20, 21b).

The stand-ins' ``nptype`` fails as the real one does under numpy 1.24-1.26 on 7.1/8.2 and for bf16/fp8
on 10.x (``STATE.numpy_version`` defaults to 1.24.4), so these pass only without ``trt.nptype``.
"""
import os
import sys

import pytest

from edgeprof.agent.backends.tensorrt import calibrator as trt_calibrator
from edgeprof.errors import BackendError, InputFileError

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import core, fixtures  # noqa: E402  (found through the path set just above)
from trt_standins.fixtures import calls_named, open_session  # noqa: E402

# the shared fixtures: pytest finds them by their names in this module
(gpu, model, options, standin_checks, trt, trt10) = (
    fixtures.gpu, fixtures.model, fixtures.options, fixtures.standin_checks, fixtures.trt, fixtures.trt10)

NUMPY = pytest.importorskip("numpy")


# -- IO types (1, 18) ---------------------------------------------------------------------------------

@pytest.mark.parametrize("numpy_version", ["1.19.5", "1.24.4", "2.0.0"])
def test_io_types_map_to_numpy_without_trt_nptype_whatever_the_numpy(trt, gpu, model, options, numpy_version):
    core.STATE.numpy_version = numpy_version
    session = open_session(model, options=options)
    session.run()
    assert [str(t["host"].dtype) for t in session._tensors] == ["float32", "float32"]
    session.close()


@pytest.mark.parametrize("name,expected", [("HALF", "float16"), ("INT32", "int32"), ("BOOL", "bool"),
                                           ("UINT8", "uint8"), ("INT64", "int64")])
def test_every_io_type_numpy_has_is_mapped(trt10, gpu, tmp_path, options, name, expected):
    path = core.write_model(str(tmp_path / "m.onnx"), outputs=[["out", [-1, 10], name]])
    session = open_session(path, options=options)
    assert str(session._tensors[1]["host"].dtype) == expected
    session.close()


@pytest.mark.parametrize("name", ["BF16", "FP8", "INT4", "FP4"])
def test_io_without_a_numpy_type_is_refused_in_one_line(trt10, gpu, tmp_path, options, name):
    path = core.write_model(str(tmp_path / "m.onnx"), outputs=[["out", [-1, 10], name]])
    with pytest.raises(InputFileError, match=r"IO tensor 'out' is %s, which has no numpy type.*export the model "
                                             r"with float32 or float16" % name) as info:
        open_session(path, options=options)
    assert "\n" not in str(info.value)


# -- return values (13) --------------------------------------------------------------------------------

def test_a_refused_optimization_profile_names_the_inputs(trt, gpu, model, options):
    core.STATE.faults["profile_invalid"] = "opt dims out of range"
    with pytest.raises(BackendError, match=r"refused the optimization profile for input 'input' \(4, 3, 8, 8\): "
                                           r".*Optimization profile is invalid: opt dims out of range"):
        open_session(model, options=options)
    assert not calls_named("Builder.build")


def test_a_refused_tensor_address_names_the_tensor(trt10, gpu, model, options):
    core.STATE.faults["tensor_address_refused"] = "logits"
    with pytest.raises(BackendError, match=r"refused the device address of IO tensor 'logits': .*setTensorAddress"):
        open_session(model, options=options)


# -- int8 (12, 19, 21b) --------------------------------------------------------------------------------

# the second input is the larger: a buffer sized from the first input would be read past its end
TWO_INPUTS = [["mask", [-1, 1, 4, 4], "FLOAT"], ["image", [-1, 3, 8, 8], "FLOAT"]]


def test_int8_calibration_gives_each_input_its_own_buffer_of_its_size(trt, gpu, tmp_path, options):
    path = core.write_model(str(tmp_path / "two.onnx"), inputs=TWO_INPUTS)
    calib = tmp_path / "calib"
    calib.mkdir()
    for index in range(2):
        NUMPY.savez(str(calib / ("s%d.npz" % index)), image=NUMPY.ones((2, 3, 8, 8), NUMPY.float32),
                    mask=NUMPY.zeros((2, 1, 4, 4), NUMPY.float32))
    session = open_session(path, batch=2, precision="int8", options=dict(options, calib_dir=str(calib)))
    assert "calibrated 2 batches" in core.STATE.calls  # and no short-buffer violation (standin_checks)
    session.close()


def test_a_multi_input_model_needs_npz_calibration_files(trt, gpu, tmp_path, options):
    path = core.write_model(str(tmp_path / "two.onnx"), inputs=TWO_INPUTS)
    calib = tmp_path / "calib"
    calib.mkdir()
    NUMPY.save(str(calib / "a.npy"), NUMPY.ones((2, 3, 8, 8), NUMPY.float32))
    with pytest.raises(InputFileError, match="the model has 2 inputs .*give .npz files with one array per input"):
        open_session(path, batch=2, precision="int8", options=dict(options, calib_dir=str(calib)))


def test_an_npz_without_an_input_is_named(trt, gpu, tmp_path, options):
    path = core.write_model(str(tmp_path / "two.onnx"), inputs=TWO_INPUTS)
    calib = tmp_path / "calib"
    calib.mkdir()
    NUMPY.savez(str(calib / "a.npz"), image=NUMPY.ones((2, 3, 8, 8), NUMPY.float32))
    with pytest.raises(InputFileError, match="a.npz has no array named 'mask'"):
        open_session(path, batch=2, precision="int8", options=dict(options, calib_dir=str(calib)))


def test_the_calibration_fingerprint_follows_file_content_not_only_size(tmp_path):
    path = str(tmp_path / "a.npy")
    NUMPY.save(path, NUMPY.zeros((2, 3, 8, 8), NUMPY.float32))
    before = trt_calibrator.fingerprint([path])
    NUMPY.save(path, NUMPY.ones((2, 3, 8, 8), NUMPY.float32))  # same size, new data
    assert trt_calibrator.fingerprint([path]) != before


def test_placeholder_ranges_are_described_as_edgeprofs_own_not_trtexecs(trt, gpu, model, options):
    session = open_session(model, precision="int8", options=options)
    note = session.describe()["int8_calibration"]
    assert "like trtexec" not in note and "edgeprof's choice" in note and "timing only" in note
    session.close()


def test_a_network_with_q_dq_layers_gets_no_placeholder_ranges(trt10, gpu, tmp_path, options):
    path = core.write_model(str(tmp_path / "qat.onnx"), layers=[
        ["QuantizeLinear_0", "Quantize", 0.0], ["DequantizeLinear_1", "Dequantize", 0.0],
        ["Conv_2", "Convolution", 0.5]])
    session = open_session(path, precision="int8", options=options)
    assert not calls_named("ITensor.set_dynamic_range")
    assert session.describe()["int8_calibration"].startswith("explicit: the network's Q/DQ layers")
    session.close()
    session = open_session(path, precision="int8", options=options)  # the cache keeps what the build found
    assert session.describe()["cache_hit"] and session.describe()["int8_calibration"].startswith("explicit")
    session.close()


# -- labels (16, 20) -----------------------------------------------------------------------------------------

def test_tf32_is_recorded_as_tensorrt_leaves_it(trt, gpu, model, options):
    session = open_session(model, options=options)
    assert session.describe()["tf32"] is True  # on by default (NvInfer.h 8.5 :8410-8413)
    session.close()
    session = open_session(model, options=options)
    assert session.describe()["cache_hit"] and session.describe()["tf32"] is True
    session.close()


def test_the_cuda_version_says_whose_it_is(trt, gpu, model, options):
    session = open_session(model, options=options)
    facts = session.describe()
    assert (facts["cuda_version"], facts["cuda_version_kind"], facts["cuda_driver_version"]) == ("10.2", "driver",
                                                                                                  "10.2")
    session.close()


# -- edgeprof accuracy: real images in, logits out ----------------------------------------------------

def test_infer_feeds_the_images_and_returns_the_first_output_at_the_batch(trt, gpu, model, options):
    session = open_session(model, options=options)
    shape = session._inputs[0]["host"].shape
    images = NUMPY.arange(NUMPY.prod(shape), dtype=NUMPY.float32).reshape(shape)
    logits = session.infer(images)
    assert logits.shape[0] == session.batch and (session._inputs[0]["host"] == images).all()
    assert logits is not session._outputs[0]["host"]  # a copy: the next run overwrites the buffer
    with pytest.raises(BackendError, match=r"do not fit the engine's input"):
        session.infer(images[:1])
    session.close()
