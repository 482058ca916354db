"""`rl eval` (one run, or an ensemble) and `rl predict`: the saved network on the test set
or on your own images."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from agents.classifier.config import NAME, Config, EvalConfig
from agents.classifier.model import PRECISIONS, Classifier, accuracy, build_model, predict
from rl.backbones import make_backbone
from rl.config import saved_config
from rl.datasets import CLASS_NAMES, ImageData
from rl.errors import UserError
from rl.files import check_checkpoint_meta
from rl.precision import emulation_note
from rl.run import Run


def load_network(run: Run, checkpoint: str) -> tuple[Config, ImageData, dict[str, Any]]:
    """A classifier run's config, data and checkpoint, checked against each other."""
    cfg = saved_config(Config, run.config)
    data = cfg.data()
    state = run.load(checkpoint)
    check_checkpoint_meta(run.checkpoint_path(checkpoint), state["meta"],
                          {"algo": NAME, "backbone": cfg.backbone, "obs_shape": list(data.shape)})
    return cfg, data, state


def evaluate(run: Run, checkpoint: str, ev: EvalConfig, progress: bool = False
             ) -> dict[str, Any]:
    """`rl eval DIR [--precision auto|fp32|bf16|fp16|all]`: test accuracy at each precision;
    auto: fp32 and the reduced precisions this machine computes natively."""
    cfg, data, state = load_network(run, checkpoint)
    asked = ev.precision
    cpu = torch.device("cpu")
    wanted = [n for n in PRECISIONS if n == "fp32" or emulation_note(n, cpu) is None] \
        if asked == "auto" else list(PRECISIONS) if asked == "all" else [asked]
    for name in wanted:
        if asked != "auto" and (note := emulation_note(name, cpu)):
            print(note, file=sys.stderr)
    out: dict[str, Any] = {"algo": NAME, "backbone": cfg.backbone, "dataset": cfg.dataset,
                           "checkpoint": checkpoint, "test_images": len(data.test_x)}
    for name in wanted:
        m = build_model(cfg, data)
        m.load_state_dict(state["model"])
        m = m.to(PRECISIONS[name])
        pred = predict(m, data.test_x, torch.device("cpu"), PRECISIONS[name]).argmax(1)
        out[f"accuracy_{name}"], out[f"accuracy_{name}_ci95"] = accuracy(pred, data.test_y)
    return out


def evaluate_ensemble(runs: list[Run], checkpoint: str, ev: EvalConfig) -> dict[str, Any]:
    """`rl eval DIR1 DIR2 ...`: the runs' averaged class probabilities (the book's first way to
    raise accuracy), beside each member's own accuracy, in fp32."""
    members, probs, test_y = [], [], None
    for run in runs:
        cfg, data, state = load_network(run, checkpoint)
        if test_y is not None and (cfg.dataset != members[0]["dataset"]
                                   or not torch.equal(data.test_y, test_y)):
            raise UserError(f"{run.path} was tested on {cfg.dataset}, not "
                            f"{members[0]['dataset']}: an ensemble needs one test set")
        test_y = data.test_y
        model = build_model(cfg, data)
        model.load_state_dict(state["model"])
        p = torch.softmax(predict(model, data.test_x, torch.device("cpu")), 1)
        probs.append(p)
        members.append({"run": str(run.path), "backbone": cfg.backbone, "dataset": cfg.dataset,
                        "accuracy": accuracy(p.argmax(1), test_y)[0]})
    assert test_y is not None
    acc, ci = accuracy(torch.stack(probs).mean(0).argmax(1), test_y)
    return {"algo": NAME, "ensemble": len(runs), "dataset": members[0]["dataset"],
            "checkpoint": checkpoint, "test_images": len(test_y),
            "accuracy": acc, "accuracy_ci95": ci,
            "best_member_accuracy": max(m["accuracy"] for m in members), "members": members}


# data sets whose images are light strokes on a dark background (MNIST's convention)
DARK_BACKGROUND = ("mnist", "mnist-10k", "fashion-mnist")


def looks_inverted(image: torch.Tensor, dataset: str) -> bool:
    """Whether an image is dark-on-light while the training images are light-on-dark: its
    border (the background, in a centred picture) is mostly bright."""
    if dataset not in DARK_BACKGROUND:
        return False
    border = torch.cat([image[..., 0, :], image[..., -1, :], image[..., :, 0],
                        image[..., :, -1]], dim=-1)
    return float(border.float().mean()) > 127.5


def predict_images(run: Run, images: list[Path], checkpoint: str = "best", top: int = 3,
                   invert: str = "auto") -> list[dict[str, Any]]:
    """`rl predict RUN IMAGE...`: each image converted as the training images were (size,
    channels, and polarity: `invert` auto flips a dark-on-light image for a network trained on
    light-on-dark ones, and says so), and the most probable classes."""
    from rl.imagefolder import load_image

    cfg = saved_config(Config, run.config)
    state = run.load(checkpoint)
    meta = state["meta"]
    if meta.get("algo") != NAME:
        raise UserError(f"{run.path} is a {meta.get('algo')} run: rl predict is for classifiers")
    shape = tuple(meta["obs_shape"])
    classes = meta["classes"] if isinstance(meta["classes"], list) else \
        CLASS_NAMES.get(cfg.dataset, [str(i) for i in range(meta["classes"])])
    model = Classifier(make_backbone(cfg.backbone, shape), len(classes))
    model.load_state_dict(state["model"])
    loaded = [load_image(p, shape[1], shape[0]) for p in images]
    flip = [invert == "yes" or (invert == "auto" and looks_inverted(x, cfg.dataset))
            for x in loaded]
    batch = torch.stack([255 - x if f else x for x, f in zip(loaded, flip)])
    probs = torch.softmax(predict(model, batch, torch.device("cpu")), 1)
    out = []
    for path, p, flipped in zip(images, probs, flip):
        best = torch.argsort(p, descending=True)[:top].tolist()
        result = {"image": str(path), "top": [{"class": classes[i],
                                               "probability": round(float(p[i]), 4)}
                                              for i in best], "inverted": flipped}
        if flipped and invert == "auto":
            result["note"] = (f"dark on light, unlike {cfg.dataset}'s light-on-dark images: "
                              "inverted (--invert no keeps it as it is)")
        out.append(result)
    return out
