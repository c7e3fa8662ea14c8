"""PyTorch (and zuko, for the flows) peers of ndelab's estimators, for `make bench`.

Each model is built to the architecture the matching ndelab spec gives (same layers, widths,
heads and loss) and timed the way `ndelab bench train` times its own: gradient steps per second
(loss, backward, Adam) on a pool of eight synthetic standard-normal batches, after a warm-up.
Also counts the floating-point operations of one step (torch.utils.flop_counter) and measures
the machine's f32 GEMM rate, so that a step's share of the GEMM peak can be given.

    python bench/train_torch.py --model cvae_2d --threads 2 --steps 200 [--device cuda]
prints one JSON line.
"""

import argparse
import json
import math
import time

import torch
from torch import nn

LN_2PI = math.log(2 * math.pi)


def mlp(n_in, hidden):
    """Linear + ReLU per hidden width (ndelab's Mlp: ReLU after every layer)."""
    layers, prev = [], n_in
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        prev = h
    return nn.Sequential(*layers)


class FullGaussianHead(nn.Module):
    """Mean, log-diagonal and strict lower triangle of U, the Cholesky factor of the precision."""

    def __init__(self, n_in, d):
        super().__init__()
        self.d = d
        self.mean = nn.Linear(n_in, d)
        self.log_diag = nn.Linear(n_in, d)
        self.lower = nn.Linear(n_in, d * d)

    def log_prob(self, h, x):
        d = self.d
        log_diag = self.log_diag(h)
        u = torch.tril(self.lower(h).view(-1, d, d), -1) + torch.diag_embed(log_diag.exp())
        r = torch.einsum("bij,bi->bj", u, self.mean(h) - x)
        return log_diag.sum(-1) - 0.5 * r.square().sum(-1) - 0.5 * d * LN_2PI


class DiagGaussianHead(nn.Module):
    def __init__(self, n_in, d):
        super().__init__()
        self.mean = nn.Linear(n_in, d)
        self.log_std = nn.Linear(n_in, d)

    def forward(self, h):
        return self.mean(h), 7.0 * torch.tanh(self.log_std(h) / 7.0)


def diag_log_prob(mean, log_std, x):
    return (-0.5 * ((x - mean) * torch.exp(-log_std)).square() - log_std).sum(-1) - 0.5 * x.shape[1] * LN_2PI


class PairMlp(nn.Module):
    """relu(A x + B y) then the rest of the widths."""

    def __init__(self, n_x, n_y, hidden):
        super().__init__()
        self.a, self.b = nn.Linear(n_x, hidden[0]), nn.Linear(n_y, hidden[0])
        self.rest = mlp(hidden[0], hidden[1:])

    def forward(self, x, y):
        return self.rest(torch.relu(self.a(x) + self.b(y)))


class ConvEmbedding(nn.Module):
    """ndelab's conv1d embedding: conv (valid), ReLU, max-pool per layer; then dense layers."""

    def __init__(self, length, channels, kernel, pool, dense):
        super().__init__()
        layers, c_in = [], 1
        for c in channels:
            layers += [nn.Conv1d(c_in, c, kernel), nn.ReLU(), nn.MaxPool1d(pool)]
            c_in = c
            length = (length - kernel + 1) // pool
        self.conv = nn.Sequential(*layers)
        self.dense = mlp(length * c_in, dense)
        self.n_out = dense[-1]

    def forward(self, y):
        return self.dense(self.conv(y.unsqueeze(1)).flatten(1))


class Gaussian(nn.Module):
    def __init__(self, d, m, hidden, embedding=None):
        super().__init__()
        self.embed = embedding or nn.Identity()
        n = embedding.n_out if embedding else m
        self.trunk, self.head = mlp(n, hidden), FullGaussianHead(hidden[-1], d)

    def loss(self, x, y):
        return -self.head.log_prob(self.trunk(self.embed(y)), x).mean()


class Regression(nn.Module):
    def __init__(self, d, m, hidden, embedding=None):
        super().__init__()
        self.embed = embedding or nn.Identity()
        n = embedding.n_out if embedding else m
        self.trunk, self.head = mlp(n, hidden), nn.Linear(hidden[-1], d)

    def loss(self, x, y):
        return (self.head(self.trunk(self.embed(y))) - x).square().mean()


class Mdn(nn.Module):
    def __init__(self, d, m, hidden, k):
        super().__init__()
        self.trunk, self.logits = mlp(m, hidden), nn.Linear(hidden[-1], k)
        self.components = nn.ModuleList(FullGaussianHead(hidden[-1], d) for _ in range(k))

    def loss(self, x, y):
        h = self.trunk(y)
        log_w = torch.log_softmax(self.logits(h), -1)
        terms = torch.stack([c.log_prob(h, x) for c in self.components], -1) + log_w
        return -torch.logsumexp(terms, -1).mean()


class DeepEnsemble(nn.Module):
    def __init__(self, d, m, hidden, members):
        super().__init__()
        self.members = nn.ModuleList(Gaussian(d, m, hidden) for _ in range(members))

    def loss(self, x, y):
        return sum(g.loss(x, y) for g in self.members) / len(self.members)


class Cvae(nn.Module):
    """Gabbard et al.'s CVAE as ndelab builds it (src/nn/cvae.rs)."""

    def __init__(self, d, m, hidden, latent):
        super().__init__()
        self.latent = latent
        self.e1, self.e1_head = mlp(m, hidden), DiagGaussianHead(hidden[-1], latent)
        self.e2, self.e2_head = PairMlp(d, m, hidden), DiagGaussianHead(hidden[-1], latent)
        self.dec, self.dec_head = PairMlp(latent, m, hidden), DiagGaussianHead(hidden[-1], d)

    def loss(self, x, y):
        mu1, ls1 = self.e1_head(self.e1(y))
        mu2, ls2 = self.e2_head(self.e2(x, y))
        z = mu2 + ls2.exp() * torch.randn_like(mu2)
        rec = diag_log_prob(*self.dec_head(self.dec(z, y)), x)
        kl = (ls1 - ls2 + ((2 * ls2).exp() + (mu2 - mu1).square()) * (-2 * ls1).exp() * 0.5 - 0.5).sum(-1)
        return (kl - rec).mean()


class Flow(nn.Module):
    """A zuko flow behind an MLP embedding of the data."""

    def __init__(self, flow, m, embedding):
        super().__init__()
        self.embed, self.flow = mlp(m, embedding), flow

    def loss(self, x, y):
        return -self.flow(self.embed(y)).log_prob(x).mean()


CONV = dict(channels=[16, 16, 32], kernel=7, pool=2, dense=[256])
# name: (theta_dim, data_dim, constructor); the ndelab spec each follows is in bench/train.sh.
MODELS = {
    "regression": (4, 256, lambda d, m: Regression(d, m, [256, 256, 256])),
    "regression_conv": (4, 256, lambda d, m: Regression(d, m, [256, 256], ConvEmbedding(m, [16, 32, 64], 8, 4, [64]))),
    "gaussian": (4, 256, lambda d, m: Gaussian(d, m, [256, 256, 256])),
    "gaussian_conv": (4, 256, lambda d, m: Gaussian(d, m, [256, 256, 256], ConvEmbedding(m, **CONV))),
    "mdn": (4, 256, lambda d, m: Mdn(d, m, [256, 256, 256], 4)),
    "deep_ensemble": (4, 256, lambda d, m: DeepEnsemble(d, m, [256, 256, 256], 5)),
    "cvae_2d": (4, 256, lambda d, m: Cvae(d, m, [256, 256], 2)),
    "cvae": (4, 256, lambda d, m: Cvae(d, m, [256, 256], 8)),
}


def add_flows():
    import zuko

    MODELS["maf"] = (4, 256, lambda d, m: Flow(zuko.flows.MAF(d, 256, transforms=5, hidden_features=[128, 128]), m, [256, 256]))
    # ndelab's NSF is a coupling flow: zuko's masked transform with two passes is one.
    MODELS["nsf"] = (
        4,
        256,
        lambda d, m: Flow(zuko.flows.NSF(d, 256, transforms=4, bins=8, hidden_features=[128, 128], passes=2), m, [256, 256]),
    )


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def gemm_rate(device, repeats=10):
    """Best f32 GEMM rate (FLOP/s) of an n × n product on the threads set (n = 1024), or on
    the GPU (n = 8192, TF32 off: plain f32, as ndelab's products)."""
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    best = 0.0
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def step_flops(model, opt, x, y):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        opt.zero_grad(set_to_none=True)
        model.loss(x, y).backward()
    return counter.get_total_flops()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--gemm", action="store_true", help="print only the f32 GEMM rate")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU twin of a CUDA build's rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(args.device)
    if args.gemm:
        print(json.dumps({"threads": args.threads, "device": args.device, "gemm_flops_per_s": gemm_rate(device)}))
        return
    add_flows()
    d, m, make = MODELS[args.model]
    model = make(d, m).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pool = [(torch.randn(args.batch, d, device=device), torch.randn(args.batch, m, device=device)) for _ in range(8)]
    flops = step_flops(model, opt, *pool[0])
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            sync(device)
            start = time.perf_counter()
        x, y = pool[step % len(pool)]
        opt.zero_grad(set_to_none=True)
        model.loss(x, y).backward()
        opt.step()
    sync(device)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "model": args.model,
                "peer": f"torch {torch.__version__}",
                "params": sum(p.numel() for p in model.parameters()),
                "threads": args.threads,
                "device": args.device,
                "steps_per_s": args.steps / seconds,
                "flops_per_step": flops,
            }
        )
    )


if __name__ == "__main__":
    main()
