"""Pooling/upsample/mse bytes derived from recorded inputs match the tensors torch really produced."""
import pytest

torch = pytest.importorskip("torch")

from traceflops import analyze  # noqa: E402


@pytest.mark.parametrize("k,s,p,ceil", [(3, 2, 1, True), (2, 2, 0, False), (3, 1, 1, False), (3, 2, 0, True)])
def test_max_pool_and_upsample_bytes(tmp_path, k, s, p, ceil):
    from torch.profiler import ProfilerActivity, profile
    x = torch.randn(2, 3, 17, 16)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        y = torch.nn.functional.max_pool2d(x, k, s, p, ceil_mode=ceil)
        u = torch.nn.functional.interpolate(x, size=(34, 40), mode="nearest")
        loss = torch.nn.functional.mse_loss(x, torch.zeros_like(x))
    prof.export_chrome_trace(str(tmp_path / "t.json"))
    ops = analyze(tmp_path / "t.json").ops
    row = lambda name: ops[(ops["name"] == name) & ops["bytes"].notna()].iloc[0]
    mp = row("aten::max_pool2d_with_indices")
    assert mp["bytes"] == x.numel() * 4 + y.numel() * (4 + 8)
    assert mp["flops"] == y.numel() * k * k
    up = row("aten::upsample_nearest2d")
    assert up["bytes"] == (x.numel() + u.numel()) * 4
    ml = row("aten::mse_loss")
    assert ml["flops"] == 3 * x.numel() and ml["bytes"] == (2 * x.numel() + 1) * 4
    assert loss.numel() == 1
