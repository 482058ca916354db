"""Every backbone on every supported input shape: forward shape, feature size, gradients."""
import pytest
import torch

from rl.backbones import BACKBONES, make_backbone, same_padding, xavier_init
from rl.errors import UserError
from rl.heads import ClassifierHead, PolicyValueHead, QHead

SHAPES = [(1, 28, 28), (3, 32, 32), (4, 84, 84), (3, 6, 7), (3, 224, 224)]
CONV = [name for name in BACKBONES if name != "mlp"]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", CONV)
def test_conv_backbone_forward_and_gradients(name, shape):
    if shape == (3, 224, 224) and name in ("vgg16", "resnet34"):
        pytest.skip("same code path as the smaller family members; slow on 2 CPU cores")
    torch.manual_seed(0)
    net = make_backbone(name, shape)
    x = torch.rand(2, *shape, requires_grad=True)
    features = net(x)
    assert features.shape == (2, net.out_features) and torch.isfinite(features).all()
    features.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_mlp_for_vectors_and_clear_errors():
    net = make_backbone("mlp", (4,))
    assert net(torch.zeros(3, 4)).shape == (3, net.out_features)
    with pytest.raises(UserError, match="did you mean 'resnet18'"):
        make_backbone("resnet-18", (1, 28, 28))
    with pytest.raises(UserError, match="image-shaped"):
        make_backbone("nature", (4,))


def test_same_padding_is_flax_s_and_gives_dopamine_s_feature_map():
    # Flax pads 'SAME' with the odd pixel after: 84 -> 21 -> 11 -> 11 cells
    assert same_padding(84, 8, 4) == (2, 2)
    assert same_padding(21, 4, 2) == (1, 2)
    assert same_padding(11, 3, 1) == (1, 1)
    body = make_backbone("nature-same", (4, 84, 84)).body
    assert body[-2].in_features == 64 * 11 * 11  # the Linear after Flatten


def test_xavier_init_zeroes_biases_and_bounds_weights():
    net = make_backbone("nature", (4, 84, 84))
    xavier_init(net)
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = m.weight[0].numel()
            fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
            bound = (6 / (fan_in + fan_out)) ** 0.5
            assert (m.bias == 0).all() and m.weight.abs().max() <= bound
            assert m.weight.abs().max() > 0.9 * bound  # uniform over the whole range


def test_heads():
    f = torch.randn(5, 16)
    q = QHead(16, 3, dueling=True)(f)
    assert q.shape == (5, 3)
    logits = ClassifierHead(16, 10)(f)
    assert logits.shape == (5, 10)
    p, v = PolicyValueHead(16, 7)(f)
    assert p.shape == (5, 7) and v.shape == (5,) and (v.abs() <= 1).all()


def test_dueling_head_advantages_are_centred():
    head = QHead(8, 4, dueling=True)
    f = torch.randn(6, 8)
    q = head(f)
    torch.testing.assert_close(q.mean(1), head.value(f).squeeze(1))
