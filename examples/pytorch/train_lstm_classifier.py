"""Train a 2-layer nn.LSTM sequence classifier in plain PyTorch and export it for `lwin diagnose`.

Task: x_t ~ N(0, 1) (one feature), T = 32 steps; the class is the sign of the input LAG = 10 steps before the end,
y = [x_{T-1-LAG} > 0], read from the last step only (a last-step loss, as sequence classification is trained).
The model is the usual module: nn.LSTM(1, 16, num_layers=2, batch_first=True) then nn.Linear(16, 2) on the last h.

    python3 examples/pytorch/train_lstm_classifier.py      # ~1 minute on a laptop CPU

writes, next to this script:
  model.safetensors      model.state_dict(): lstm.weight_ih_l0 … lstm.bias_hh_l1, head.weight [2,16], head.bias [2]
  optimizer.safetensors  Adam's state as <state>.<param> (exp_avg.lstm.weight_ih_l0 …), for lwin's ρ
  x.npy, y.npy           a held-out diagnostic set: X [2048, 32, 1] float32, y [2048] class indices (as float32)
  trained.json           the settings and the final held-out loss and accuracy
With the safetensors package installed, the export is one line: safetensors.torch.save_file(model.state_dict(), path);
the fallback below writes the same format without it.
"""
import json
import os
import struct

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
T, LAG, D, H, K, LAYERS = 32, 10, 1, 16, 2, 2
N_TRAIN, N_DIAG, BATCH, EPOCHS, LR = 4096, 2048, 64, 80, 1e-2


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(D, H, num_layers=LAYERS, batch_first=True)
        self.head = nn.Linear(H, K)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])  # logits from the last step


def make_data(n, generator):
    x = torch.randn(n, T, D, generator=generator)
    return x, (x[:, T - 1 - LAG, 0] > 0).long()


def save_file(tensors, path, metadata=None):
    try:
        import safetensors.torch

        safetensors.torch.save_file(tensors, path, metadata=metadata)
        return
    except ImportError:
        pass
    header, chunks, end = ({"__metadata__": metadata} if metadata else {}), [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [end, end + len(data)]}
        chunks.append(data)
        end += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    x_train, y_train = make_data(N_TRAIN, generator)
    x_diag, y_diag = make_data(N_DIAG, generator)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        order = torch.randperm(N_TRAIN, generator=generator)
        for start in range(0, N_TRAIN, BATCH):
            idx = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_diag)
            diag_loss = loss_fn(logits, y_diag).item()
            accuracy = (logits.argmax(-1) == y_diag).float().mean().item()
        model.train()
        print(f"epoch {epoch + 1:3d}  held-out loss {diag_loss:.4f}  accuracy {accuracy:.3f}")

    save_file(model.state_dict(), os.path.join(HERE, "model.safetensors"))
    names = dict((p, n) for n, p in model.named_parameters())
    state = {f"{key}.{names[p]}": s[key] for p, s in optimizer.state.items() for key in ("exp_avg", "exp_avg_sq")}
    step = int(next(iter(optimizer.state.values()))["step"])
    save_file(state, os.path.join(HERE, "optimizer.safetensors"), {"optimizer": "adam", "step": str(step), "state_keys": "exp_avg,exp_avg_sq"})
    np.save(os.path.join(HERE, "x.npy"), x_diag.numpy().astype(np.float32))
    np.save(os.path.join(HERE, "y.npy"), y_diag.numpy().astype(np.float32))
    with open(os.path.join(HERE, "trained.json"), "w") as f:
        settings = {"T": T, "lag": LAG, "D": D, "H": H, "K": K, "layers": LAYERS, "n_train": N_TRAIN, "batch": BATCH, "epochs": EPOCHS, "lr": LR, "optimizer": "adam", "updates": step}
        json.dump({**settings, "heldout_loss": diag_loss, "heldout_accuracy": accuracy}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
