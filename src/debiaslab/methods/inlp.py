"""Iterative Nullspace Projection (Ravfogel et al., 2020) on a causal LM's final hidden states.

Fit: repeatedly train a linear gender classifier (scikit-learn LinearSVC, as in the
authors' code) on the representations projected so far, and add its weight vector
to the removed row space; stop after `iterations` or once a held-out classifier is
at about chance. The result is P = I − P_R(W), the projection onto the intersection
of the classifiers' nullspaces (W = all classifier weights stacked).

Apply: a forward pre-hook on the output embedding multiplies every position's final
hidden state by P before the LM head, during generation.

Representations are the LM head's inputs (captured through that same hook point, so
what INLP is fitted on is exactly what it later projects), mean-pooled over each
sentence's tokens, for minimal pairs that differ only in the gendered word.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class INLPSettings:
    iterations: int = 35
    min_accuracy: float | None = None  # if set, stop once the dev-split classifier does no better than this
    dev_fraction: float = 0.3
    batch_size: int = 64
    svm_c: float = 1.0


def hidden_features(model, tokenizer, texts: list[str], batch_size: int = 64):
    """Mean-pooled LM-head inputs for each text (float64 numpy array, n × d)."""
    import numpy as np
    import torch

    from debiaslab.core.batching import by_length, pad_batch
    from debiaslab.core.progress import track

    captured: list = []
    head = model.get_output_embeddings()
    hook = head.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    device = next(model.parameters()).device
    encoded = tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False)["input_ids"]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = None
    try:
        with torch.inference_mode():
            for rows in track(
                list(by_length([len(ids) for ids in encoded], batch_size)), "INLP hidden states", quiet=True
            ):
                ids, mask = pad_batch([encoded[i] for i in rows], pad)  # right padding: positions as unpadded
                captured.clear()
                model(input_ids=ids.to(device), attention_mask=mask.to(device))
                hidden = captured[-1].float()
                weight = mask.to(device).unsqueeze(-1).float()
                if out is None:
                    out = np.zeros((len(texts), hidden.shape[-1]))
                out[rows] = ((hidden * weight).sum(1) / weight.sum(1)).cpu().numpy()
    finally:
        hook.remove()
    return out if out is not None else np.zeros((0, head.weight.shape[-1]))


def rowspace_projection(W):
    """Orthogonal projection onto the row space of W (k × d)."""
    import numpy as np

    if W.ndim == 1:
        W = W[None, :]
    if not np.any(W):
        return np.zeros((W.shape[1], W.shape[1]))
    u, s, vt = np.linalg.svd(W, full_matrices=False)
    basis = vt[s > s.max() * 1e-10]
    return basis.T @ basis


def nullspace_intersection(weights: list, dim: int):
    """P = I − P_R(W): projects onto the intersection of the nullspaces of every row of W."""
    import numpy as np

    if not weights:
        return np.eye(dim)
    return np.eye(dim) - rowspace_projection(np.vstack(weights))


def fit_projection(X, y, settings: INLPSettings, seed: int):
    """The INLP loop. Returns (P, history of dev accuracies per iteration)."""
    import numpy as np
    from sklearn.svm import LinearSVC

    from debiaslab.core.progress import Progress

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    n_dev = max(2, int(len(X) * settings.dev_fraction))
    dev, train = order[:n_dev], order[n_dev:]
    dim = X.shape[1]
    weights: list = []
    P = np.eye(dim)
    history = []
    progress = Progress("INLP fit", settings.iterations, "iterations")
    for _ in range(settings.iterations):
        clf = LinearSVC(C=settings.svm_c, fit_intercept=True, dual="auto", max_iter=5000, random_state=seed)
        clf.fit(X[train] @ P, y[train])
        accuracy = float(clf.score(X[dev] @ P, y[dev]))
        history.append(accuracy)
        progress.update(dev_accuracy=accuracy)
        if settings.min_accuracy is not None and accuracy < settings.min_accuracy:
            break
        weights.append(clf.coef_.reshape(1, -1))
        P = nullspace_intersection(weights, dim)
    progress.close()
    return P, history


def add_projection_hook(model, P):
    """Project every final hidden state with P before the LM head; returns the hook handle."""
    import torch

    head = model.get_output_embeddings()
    proj = torch.as_tensor(P, dtype=head.weight.dtype, device=head.weight.device)

    def project(module, args):
        return (args[0] @ proj,) + tuple(args[1:])

    return head.register_forward_pre_hook(project)


def load_projection(path: str | Path):
    from safetensors.numpy import load_file

    return load_file(str(Path(path) / "projection.safetensors"))["P"]


def train_inlp(model_spec, data_path, settings: INLPSettings, seed: int, out_dir, checkpoint_root=None) -> dict:
    """Stage entry: fit P on labelled sentences (columns text, gender) and save it (safetensors)."""
    import numpy as np
    from safetensors.numpy import save_file

    from debiaslab import models
    from debiaslab.core.io import atomic_path, read_table, write_json

    frame = read_table(data_path, required=["gender"], text=["text"])
    spec = models.ModelSpec.parse(model_spec)
    tokenizer = models.load_tokenizer(spec)
    lm = models.load_model(spec)
    X = hidden_features(lm, tokenizer, frame["text"].tolist(), settings.batch_size)
    y = (frame["gender"] == "female").to_numpy().astype(int)
    P, history = fit_projection(X, y, settings, seed)
    summary = {
        "method": "inlp",
        "seed": seed,
        "sentences": len(frame),
        "dim": int(X.shape[1]),
        "removed_directions": int(round(X.shape[1] - np.trace(P))),
        "dev_accuracy_per_iteration": history,
    }
    with atomic_path(out_dir, directory=True) as tmp:
        save_file({"P": np.ascontiguousarray(P.astype(np.float32))}, str(tmp / "projection.safetensors"))
        write_json(tmp / "training_summary.json", summary)
    return summary
