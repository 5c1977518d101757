"""optimlab 与 torch.optim 的逐位对照：每个优化器 × 每种选项组合 × float32/float64。"""

import pytest
import torch

from oracle import NAMES, assert_bitwise, assert_same_state, make_params, option_grid, pair, train

CASES = [
    pytest.param(name, kw, id=f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()))
    for name in NAMES
    for kw in option_grid(name)
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_bitwise_equal_to_torch(name, kwargs, dtype):
    ours_cls, torch_cls = pair(name)
    p_ours, p_torch = make_params(dtype), make_params(dtype)
    ours, _ = train(ours_cls, kwargs, params=p_ours, steps=30, groups=True)
    theirs, _ = train(torch_cls, kwargs, params=p_torch, steps=30, groups=True)
    assert_bitwise(p_ours, p_torch, name)
    assert_same_state(ours, theirs)
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


@pytest.mark.parametrize("name", NAMES)
def test_default_constructor_matches_torch(name):
    """默认参数（不传任何超参数）与 torch 相同，参数组里的键和值也相同。"""
    ours_cls, torch_cls = pair(name)
    p_ours, p_torch = make_params(), make_params()
    ours, _ = train(ours_cls, {}, params=p_ours, steps=20)
    theirs, _ = train(torch_cls, {}, params=p_torch, steps=20)
    assert ours.defaults == theirs.defaults
    assert_bitwise(p_ours, p_torch, name)


@pytest.mark.parametrize("name", NAMES)
def test_closure_returns_loss_and_matches(name):
    ours_cls, torch_cls = pair(name)
    p_ours, p_torch = make_params(), make_params()
    train(ours_cls, {"lr": 0.01}, params=p_ours, steps=15, closure=True)
    train(torch_cls, {"lr": 0.01}, params=p_torch, steps=15, closure=True)
    assert_bitwise(p_ours, p_torch, name)

    params = make_params()
    opt = ours_cls(params, lr=0.01)

    def closure():
        opt.zero_grad()
        loss = (params[0] ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert torch.is_tensor(loss) and loss.item() > 0


@pytest.mark.parametrize("name", NAMES)
def test_tensor_lr(name):
    ours_cls, torch_cls = pair(name)
    p_ours, p_torch = make_params(), make_params()
    train(ours_cls, {"lr": torch.tensor(0.01)}, params=p_ours, steps=20)
    train(torch_cls, {"lr": torch.tensor(0.01)}, params=p_torch, steps=20)
    assert_bitwise(p_ours, p_torch, name)


def test_adam_tensor_betas():
    ours_cls, torch_cls = pair("Adam")
    kw = {"lr": 0.01, "betas": (torch.tensor(0.8), torch.tensor(0.99))}
    p_ours, p_torch = make_params(), make_params()
    train(ours_cls, kw, params=p_ours, steps=20)
    train(torch_cls, kw, params=p_torch, steps=20)
    assert_bitwise(p_ours, p_torch)


@pytest.mark.parametrize("name", NAMES)
def test_named_parameters(name):
    ours_cls, torch_cls = pair(name)
    torch.manual_seed(0)
    m_ours = torch.nn.Linear(3, 2)
    m_torch = torch.nn.Linear(3, 2)
    m_torch.load_state_dict(m_ours.state_dict())
    ours, theirs = ours_cls(m_ours.named_parameters(), lr=0.01), torch_cls(m_torch.named_parameters(), lr=0.01)
    x = torch.randn(4, 3)
    for opt, m in ((ours, m_ours), (theirs, m_torch)):
        for _ in range(5):
            opt.zero_grad()
            m(x).pow(2).sum().backward()
            opt.step()
    assert ours.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]
    assert_bitwise(list(m_ours.parameters()), list(m_torch.parameters()))


@pytest.mark.parametrize("name", NAMES)
def test_add_param_group(name):
    ours_cls, torch_cls = pair(name)
    results = []
    for cls in (ours_cls, torch_cls):
        params = make_params()
        opt = cls(params[:2], lr=0.01)
        train(cls, {}, params=params, steps=5, opt=opt, none_grad=False)
        opt.add_param_group({"params": params[2:], "lr": 0.05})
        train(cls, {}, params=params, steps=10, start=5, opt=opt)
        results.append((params, opt))
    (p_ours, ours), (p_torch, theirs) = results
    assert_bitwise(p_ours, p_torch, name)
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name", NAMES)
def test_grad_none_is_skipped_exactly(name):
    """.grad 为 None 的参数不更新，也不推进它的 step（同 torch）。"""
    ours_cls, _ = pair(name)
    params = make_params()
    opt = ours_cls(params, lr=0.01)
    before = params[2].detach().clone()
    opt.zero_grad()
    (params[0] ** 2).sum().backward()  # 只有 params[0] 有梯度
    opt.step()
    assert params[1].grad is None and params[2].grad is None
    assert torch.equal(params[2], before)
    state = opt.state_dict()["state"]
    if name == "Adagrad":  # Adagrad 在构造时就为所有参数建好状态
        assert state[2]["step"].item() == 0.0
    else:
        assert 2 not in state


@pytest.mark.parametrize("name", NAMES)
def test_complex_params(name):
    ours_cls, torch_cls = pair(name)
    results = []
    for cls in (ours_cls, torch_cls):
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(6, dtype=torch.complex64, generator=gen).requires_grad_()
        opt = cls([z], lr=0.01, weight_decay=0.1)
        for _ in range(10):
            opt.zero_grad()
            (z * z.conj() + 0.3 * z.real**3).real.sum().backward()
            opt.step()
        results.append(z)
    assert torch.equal(torch.view_as_real(results[0]), torch.view_as_real(results[1]))


def test_sgd_momentum_buffer_starts_at_first_gradient():
    """torch 的 SGD 第一步令 b₁ = g₁，不乘 (1 − τ)：阻尼从第二步才起作用。"""
    ours_cls, _ = pair("SGD")
    p = torch.zeros(3, requires_grad=True)
    opt = ours_cls([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad = torch.tensor([1.0, 2.0, 3.0])
    opt.step()
    assert torch.equal(opt.state[p]["momentum_buffer"], torch.tensor([1.0, 2.0, 3.0]))
    opt.step()
    assert torch.allclose(opt.state[p]["momentum_buffer"], torch.tensor([1.4, 2.8, 4.2]))


def test_adam_first_step_moves_every_coordinate_by_lr():
    """偏差校正后第一步 m̂₁/√v̂₁ = g/|g|：每个坐标恰好移动约 η（Kingma & Ba, §3）。"""
    p = torch.zeros(4, requires_grad=True)
    opt = pair("Adam")[0]([p], lr=0.1, eps=0.0)
    p.grad = torch.tensor([1e-3, -2.0, 50.0, -7.0])
    opt.step()
    assert torch.allclose(p.detach(), torch.tensor([-0.1, 0.1, -0.1, 0.1]), rtol=1e-6)
