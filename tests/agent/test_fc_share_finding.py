"""The FC-share finding on per-layer times where no model spends a noticeable share in FC layers.

numpy and PyYAML only: runs under Python 3.6 as well.
"""
import truthgen
from edgeprof.reading.report import data, findings


def _dataset(shares):
    """One setup, a model per entry of ``shares``: {name: {batch: fc_share}}."""
    loaded = []
    for model, by_batch in zip(truthgen.spread_models(len(shares), seed=2), sorted(shares.items())):
        runs = []
        for batch, share in sorted(by_batch[1].items()):
            run = truthgen.run_entry(batch, 2.0 + model.gops)
            run["fc_share"] = share
            runs.append(run)
        loaded.append((model.name, truthgen.profile_of(model, runs)))
    return data.from_profiles(loaded)


def test_without_a_noticeable_fc_share_the_statistic_gives_the_largest_share_not_the_verdict_again():
    dataset = _dataset({"a": {1: 0.012, 4: 0.004}, "b": {1: 0.0, 4: 0.0}})
    found = findings.fc_share(dataset, dataset.setups[0])
    per_layer = found["per_layer"]
    assert per_layer["n"] == 0
    assert per_layer["verdict"] == "inconclusive: no model spends a noticeable share in FC layers"
    assert per_layer["statistic"] not in per_layer["verdict"]
    (largest,) = [m["model"] for m in per_layer["models"] if m["shares"][1] == 0.012]
    assert per_layer["statistic"].startswith("largest FC share 1.2%% (%s at batch 1)" % largest)
    assert "5%" in per_layer["statistic"]
