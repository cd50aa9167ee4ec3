"""edgeprof.util: the helpers every side shares."""
from edgeprof import util


def test_one_line_folds_whitespace_names_the_type_when_empty_and_cuts_long_text():
    assert util.one_line(ValueError("a\n  b\tc")) == "a b c"
    assert util.one_line(KeyError()) == "KeyError"
    cut = util.one_line(RuntimeError("x" * 1000))
    assert len(cut) == 400 and cut.endswith("...")
    assert util.one_line(RuntimeError("x" * 50), limit=20) == "x" * 17 + "..."


def test_slug_keeps_letters_and_digits_and_falls_back_when_nothing_is_left():
    assert util.slug("NVIDIA Jetson Nano (4GB)") == "nvidia-jetson-nano-4gb"
    assert util.slug("  --  ") == "unknown"
    assert util.slug(None, "board") == "board"


def test_geomean_leaves_out_missing_and_non_positive_values():
    assert abs(util.geomean([2.0, 8.0]) - 4.0) < 1e-12
    assert abs(util.geomean([2.0, None, 0.0, -1.0, 8.0]) - 4.0) < 1e-12
    assert util.geomean([None, 0]) is None


def test_family_of_takes_the_longest_prefix_then_the_stem():
    assert util.family_of("resnext50_32x4d") == "ResNeXt"
    assert util.family_of("wide_resnet101_2") == "WideResNet"
    assert util.family_of("resnet18") == "ResNet"
    assert util.family_of("something_new", unknown="Other") == "Other"
    assert util.family_of("mynet_v2") == "mynet"


def test_text_of_decodes_c_strings_up_to_their_nul():
    assert util.text_of(b"Orin\0garbage") == "Orin"
    assert util.text_of(u"Xavier") == "Xavier"
    assert util.text_of(3) == "3"
