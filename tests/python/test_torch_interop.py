"""convkit.torch: functional convolutions and nn modules on torch.Tensors with autograd through convkit's
backward plans; a small CNN trained with convkit's layers follows torch's own layers step by step."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="convkit.torch needs python3-torch")
import convkit  # noqa: E402
import convkit.torch as ct  # noqa: E402


def test_functional_matches_torch_with_gradients():
    generator = torch.Generator().manual_seed(0)
    for name, keywords, shape, weight in [
        ("conv1d", dict(stride=2, padding=2, dilation=2), (2, 3, 17), (4, 3, 3)),
        ("conv2d", dict(padding="same", groups=3), (2, 3, 9, 8), (6, 1, 3, 3)),
        ("conv3d", dict(stride=(1, 2, 1), padding=1), (1, 2, 5, 6, 4), (3, 2, 3, 3, 3)),
        ("conv_transpose2d", dict(stride=2, padding=1, output_padding=1), (2, 4, 5, 5), (4, 3, 3, 3)),
        ("conv_transpose1d", dict(stride=3, groups=2, dilation=2), (1, 4, 7), (4, 2, 3)),
    ]:
        x = torch.randn(shape, generator=generator, requires_grad=True)
        w = torch.randn(weight, generator=generator, requires_grad=True)
        channels = weight[0] if "transpose" not in name else weight[1] * keywords.get("groups", 1)
        b = torch.randn(channels, generator=generator, requires_grad=True)
        y = getattr(ct, name)(x, w, b, **keywords)
        y_torch = getattr(torch.nn.functional, name)(x, w, b, **keywords)
        torch.testing.assert_close(y, y_torch, rtol=1e-4, atol=1e-4)
        dy = torch.randn(y.shape, generator=generator)
        grads = torch.autograd.grad(y, (x, w, b), dy)
        grads_torch = torch.autograd.grad(y_torch, (x, w, b), dy)
        for mine, theirs in zip(grads, grads_torch):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)


def test_unbatched_and_channels_last_and_no_copy():
    x = torch.randn(3, 10, 10)
    w = torch.randn(5, 3, 3, 3)
    torch.testing.assert_close(ct.conv2d(x, w), torch.nn.functional.conv2d(x, w), rtol=1e-4, atol=1e-4)
    y = ct.conv2d(x.permute(1, 2, 0)[None].contiguous(), w.permute(2, 3, 1, 0).contiguous(), layout="channels_last")
    torch.testing.assert_close(y[0].permute(2, 0, 1), torch.nn.functional.conv2d(x, w), rtol=1e-4, atol=1e-4)
    # The result is a tensor over convkit's output array (no copy): writes through numpy show in the tensor.
    y.numpy()[0, 0, 0, 0] = 123.0
    assert y[0, 0, 0, 0].item() == 123.0
    with pytest.raises(TypeError, match="torch.Tensor"):
        ct.conv2d(x.numpy(), w)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_modules_are_torch_modules(rank):
    torch.manual_seed(rank)
    spatial = (9, 8, 6)[:rank]
    pairs = [
        (getattr(torch.nn, f"Conv{rank}d")(4, 6, 3, stride=2, padding=1, padding_mode="circular"),
         getattr(ct, f"Conv{rank}d")(4, 6, 3, stride=2, padding=1, padding_mode="circular")),
        (getattr(torch.nn, f"Conv{rank}d")(4, 4, 3, padding="same", groups=4, bias=False),
         getattr(ct, f"Conv{rank}d")(4, 4, 3, padding="same", groups=4, bias=False)),
        (getattr(torch.nn, f"ConvTranspose{rank}d")(4, 2, 3, stride=2, padding=1, output_padding=1),
         getattr(ct, f"ConvTranspose{rank}d")(4, 2, 3, stride=2, padding=1, output_padding=1)),
    ]
    for reference, mine in pairs:
        mine.load_state_dict(reference.state_dict())
        assert isinstance(mine, type(reference))
        x = torch.randn((2, 4) + spatial, requires_grad=True)
        y, y_reference = mine(x), reference(x)
        torch.testing.assert_close(y, y_reference, rtol=1e-4, atol=1e-4)
        y.square().sum().backward()
        grads = [x.grad.clone()] + [p.grad.clone() for p in mine.parameters()]
        x.grad = None
        y_reference.square().sum().backward()
        grads_reference = [x.grad] + [p.grad for p in reference.parameters()]
        for a, b in zip(grads, grads_reference):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)


def test_modules_keep_their_plan_until_the_parameters_change():
    import copy
    import pickle

    layer = ct.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 8, 8)
    first = layer(x)
    plan = layer._convkit_plans.entry[1]
    torch.testing.assert_close(layer(x), first, rtol=0, atol=0)
    assert layer._convkit_plans.entry[1] is plan  # kept: the weights did not change
    with torch.no_grad():
        layer.weight.mul_(2.0)  # in place: the cached packed weights are stale
    torch.testing.assert_close(layer(x), torch.nn.functional.conv2d(x, layer.weight, layer.bias, padding=1),
                               rtol=1e-4, atol=1e-4)
    assert layer._convkit_plans.entry[1] is not plan
    layer.weight.data = torch.zeros_like(layer.weight)  # a new tensor behind the parameter
    torch.testing.assert_close(layer(x), layer.bias.detach().reshape(1, 4, 1, 1).expand(2, 4, 8, 8))
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        torch.testing.assert_close(clone(x), layer(x), rtol=0, atol=0)


def test_transposed_module_output_size_as_torch():
    reference = torch.nn.ConvTranspose2d(3, 2, 3, stride=2)
    mine = ct.ConvTranspose2d(3, 2, 3, stride=2)
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(1, 3, 5, 5)
    torch.testing.assert_close(mine(x, output_size=[12, 12]), reference(x, output_size=[12, 12]), rtol=1e-4, atol=1e-4)


def small_cnn(layers):
    return torch.nn.Sequential(
        layers.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
        layers.Conv2d(8, 8, 3, stride=2, padding=1, groups=2, padding_mode="reflect"), torch.nn.ReLU(),
        layers.Conv2d(8, 16, 1), torch.nn.ReLU(),
        layers.ConvTranspose2d(16, 4, 2, stride=2), torch.nn.ReLU(),
        layers.Conv2d(4, 1, 3, padding="same"),
    )


def test_training_a_small_cnn_follows_torch():
    torch.manual_seed(0)
    reference = small_cnn(torch.nn)
    mine = small_cnn(ct)
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(8, 1, 16, 16)
    target = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)  # learn a blur
    losses = {}
    for name, model in (("torch", reference), ("convkit", mine)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses[name] = []
        for _ in range(8):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), target)
            loss.backward()
            optimizer.step()
            losses[name].append(loss.item())
    assert losses["convkit"][-1] < losses["convkit"][0]  # it learns
    np.testing.assert_allclose(losses["convkit"], losses["torch"], rtol=1e-3)
