import torch
import torch.nn.functional as F

from sgdsm_dask.model.lstm import LSTMState, PaperLSTMCell
from sgdsm_dask.model.partial_conv import PartialConv2d

torch.manual_seed(0)


def test_all_ones_mask_equals_plain_convolution():
    pc = PartialConv2d(3, 8)
    x = torch.randn(2, 3, 12, 12)
    ones = torch.ones(2, 1, 12, 12)
    out, new_mask = pc(x, ones, ones)
    # Inside the border the window is full, so the scale is 1 and eq. 1 is a plain convolution.
    ref = F.conv2d(x, pc.conv.weight, pc.conv.bias, padding=1)
    torch.testing.assert_close(out[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])
    assert torch.equal(new_mask, ones)


def test_output_ignores_values_under_the_mask():
    pc = PartialConv2d(1, 4)
    x = torch.rand(1, 1, 10, 10)
    mask = (torch.rand(1, 1, 10, 10) > 0.5).float()
    land = torch.ones(1, 1, 10, 10)
    a, _ = pc(x, mask, land)
    b, _ = pc(torch.where(mask > 0, x, torch.full_like(x, 1e6)), mask, land)
    torch.testing.assert_close(a, b)


def test_mask_update_follows_eq2():
    pc = PartialConv2d(1, 1)
    mask = torch.zeros(1, 1, 7, 7)
    mask[0, 0, 3, 3] = 1.0  # one valid cell
    land = torch.ones(1, 1, 7, 7)
    land[0, 0, 2, 2] = 0.0  # sea inside the window
    out, new = pc(torch.rand(1, 1, 7, 7), mask, land)
    expected = torch.zeros(1, 1, 7, 7)
    expected[0, 0, 2:5, 2:5] = 1.0
    expected[0, 0, 2, 2] = 0.0  # M' = L where ||M||_1 > 0
    assert torch.equal(new, expected)
    assert torch.all(out[0, :, 0, 0] == 0)  # ||M||_1 = 0: output 0


def test_paper_cell_equations_and_state():
    cell = PaperLSTMCell(input_size=6, hidden_size=4)
    s = torch.randn(3, 6)
    p = torch.randn(3, 4)
    st = LSTMState.zeros(3, 4)
    out, new = cell(s, p, st)
    z = cell.gates(torch.cat([st.h, s], 1))
    f, i, ct, sg, o = z.chunk(5, 1)
    c = torch.sigmoid(f) * st.c + torch.sigmoid(i) * torch.tanh(ct)
    torch.testing.assert_close(new.c, c)
    torch.testing.assert_close(new.h, torch.tanh(torch.sigmoid(o) * c))
    torch.testing.assert_close(out, torch.sigmoid(sg) * torch.tanh(p))
    # no rain signal (P = 0) gives S' = 0: precipitation gates the output, eq. 10
    out0, _ = cell(s, torch.zeros(3, 4), st)
    assert torch.equal(out0, torch.zeros(3, 4))


def test_window_counts_and_in_place_path_match_the_plain_computation():
    # the fast path (shifted-add window sums, features overwritten in place) must give eq. 1 exactly
    pc = PartialConv2d(4, 6)
    x = torch.rand(3, 4, 15, 15)
    mask = (torch.rand(3, 4, 15, 15) > 0.6).float()
    land = (torch.rand(3, 1, 15, 15) > 0.2).float()
    count = F.conv2d(mask, torch.ones(1, 4, 3, 3), padding=1)
    ref = F.conv2d(x * mask, pc.conv.weight, None, padding=1) * 36.0 / count.clamp(min=1.0) + pc.conv.bias.view(
        1, -1, 1, 1
    )
    ref = ref * (count > 0)
    with torch.no_grad():
        plain, m1 = pc(x, mask, land)
        owned, m2 = pc(x.clone(), mask, land, owned=True)
        loose, _ = pc(x, mask, land, exact=False)
        nxt = PartialConv2d(6, 2)
        after_plain, _ = nxt(plain, m1, land)
        after_loose, _ = nxt(loose.clone(), m1, land, owned=True)
    torch.testing.assert_close(plain, ref)
    assert torch.equal(plain, owned) and torch.equal(m1, m2)
    assert torch.equal(after_plain, after_loose)  # the next layer's mask hides what exact=False left
    assert torch.equal(m1, land * (count > 0))
