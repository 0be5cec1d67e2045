"""Retrieval: nearest neighbours of mean-pooled hidden states, no head and no training.

Tasks (chosen by task name, else by the task's local reader name, through `KINDS`):

* ``tatoeba`` -- line i of ``tatoeba.xxx-eng.xxx`` and of ``tatoeba.xxx-eng.eng`` are a pair.
  Direction: XTREME's ``similarity_search(x, y)`` indexes the non-English sentences and searches
  them with the English ones (``idx.add(x); idx.search(y, 1)``), so by default each *English*
  sentence retrieves its nearest non-English sentence (``options["direction"] = "en->x"``);
  ``"x->en"`` is the other way. Accuracy = fraction of queries whose neighbour is their own pair
  (ties go to the lower index, as numpy's argmax). Export: the predicted index, one per line.
* ``bucc`` -- ``{xx}-en.{split}.{xx}``, ``.en`` (``id<TAB>sentence``) and ``.gold`` (``xx_id<TAB>en_id``).
  Mining follows XTREME's ``mine_bitext`` defaults: unique sentences only, L2-normalised
  vectors, k=4 nearest neighbours both ways, ratio margin ``cos(x,y) / ((knn_x + knn_y) / 2)``,
  ``retrieval='max'`` (forward and backward best pairs, accepted greedily by descending score
  so every sentence is used once) and score > 0. Sentences whose text occurs under several ids
  are dropped after mining, as XTREME's ``read_sent2id`` does. F1 uses ``bucc_f1(threshold=None)``:
  the threshold is optimised on these (dev) gold pairs, as XTREME does for the dev set. Export:
  the extracted ``src_id<TAB>tgt_id`` pairs (score >= threshold), XTREME's ``bucc_extract``.
* ``lareqa`` -- XQuAD-R JSON per language. A question's relevant candidates are the sentences
  holding its answer in *every* language of the evaluation; the pool is all sentences of all
  those languages, built once in `prepare` (candidate ids ``{lang}_{paragraph}_{sentence}``,
  paragraphs counted from 1 as in XTREME-R's ``utils_lareqa``). Candidates are the sentence
  alone; ``options["candidate_context"] = True`` appends the paragraph as XTREME-R's fine-tuned
  dual encoder does (with mean pooling the shared paragraph swamps the sentence). Metric:
  mAP@20. Export: JSON ``{question_id: [top-20 candidate ids]}`` (XTREME-R publishes no LAReQA
  prediction format; this mirrors Mewsli-X's).
* ``mewslix`` -- not in the offline bundle. XTREME-R's ``scripts/download_mewslix_data.sh`` writes
  ``download/mewslix/{candidate_set_entities.jsonl, wikipedia_pairs-{train,dev}.jsonl,
  wikinews_mentions-{dev,test}.jsonl}``; the test mentions of all languages share one file, so
  `split_mewslix_mentions` writes the per-language ``wikinews_mentions-{lang}.jsonl`` files the
  task registry expects. Queries follow XTREME-R's baseline text (the mention, then its sentence
  with the mention in ``{ }``); candidates are entity descriptions. Metric: mAP@20 (= MRR@20 with
  one gold entity). Export: JSON ``{example_id: [top-20 entity ids]}``, Mewsli-X's official format.

Representations: `all_hidden` (index 0 = embeddings, -1 = last layer) mean-pooled over the
attention mask (XTREME's default pooling includes the special tokens), L2-normalised, cosine by
dot product. ``options["layer"]`` picks the layer; ``options["all_layers"]`` scores every layer
from the same forward passes, adding ``<metric>@layer<k>`` after the configured layer's metrics.
(XTREME's Tatoeba/BUCC scripts use a middle layer: ``--specific_layer 7`` over the 12 layer outputs
of mBERT, i.e. `all_hidden` index 8; the registry's default here is the last layer.)

Limits: with ``examples_per_language = N`` the queries are the first N items; candidate pools
shrink with them so a quick run stays quick and keeps its distractors: BUCC keeps the gold
partners of the N sources plus the first N target sentences, Mewsli-X the gold entities plus the
first N entities, LAReQA the paragraphs of the first N questions (the same paragraphs in every
language, the files being parallel). `predict` without `prepare` uses full pools.

Caching: vectors are kept per text in the evaluation's `RetrievalContext` (English sides shared
by several languages are encoded once); ``options["cache_dir"]`` also stores them on disk, keyed
by the model folder and its weight files' size and mtime, max_length, layers and the texts.

Hub converters (best effort): ``tatoeba_hub`` and ``bucc_hub`` read google/xtreme's pair rows
(BUCC then only mines among the gold pairs: an easier task than the real one); ``lareqa_hub`` and
``mewslix_hub`` raise, since a row-by-row converter cannot supply the candidate pools.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data import HUB_CONVERTERS, READERS, MalformedDataError, MissingDataError, _read_lines
from ..features import length_sorted_batches, pad_sequences
from ..metrics import accuracy, bucc_f1, mean_average_precision_at_k
from ..models import mean_pool
from ..tasks import Task
from .base import EvalConfig, Example, Family, register_family

TOP_K = 20  # XTREME-R scores LAReQA and Mewsli-X on the top 20
BUCC_NEIGHBOURS = 4  # mine_bitext's `neighborhood`
DIRECTIONS = ("en->x", "x->en")

MEWSLIX_HELP = (
    "Mewsli-X is not in the offline bundle. Get it with XTREME-R's `bash scripts/download_mewslix_data.sh` "
    "(github.com/google-research/xtreme), which writes download/mewslix/candidate_set_entities.jsonl, "
    "wikipedia_pairs-{train,dev}.jsonl and wikinews_mentions-{dev,test}.jsonl; copy that folder to "
    "DATA/xtreme/mewslix/ and run `intertask.families.retrieval.split_mewslix_mentions('DATA/xtreme/mewslix')` "
    "to write the per-language wikinews_mentions-{lang}.jsonl files read here.")


# ---------------------------------------------------------------------------------------------
# readers


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def read_tatoeba(path: Path) -> list[Example]:
    """Pairs ``{"id", "text" (xxx side), "target" (English)}`` from ``tatoeba.xxx-eng.xxx`` and its ``.eng``."""
    path = Path(path)
    eng = path.with_suffix(".eng")
    if path == eng or not eng.exists():
        raise MissingDataError(f"{path}: the English side {eng} is missing; Tatoeba needs both "
                               f"tatoeba.xxx-eng.xxx and tatoeba.xxx-eng.eng")
    src, tgt = _read_lines(path), _read_lines(eng)
    if len(src) != len(tgt):  # pairs are defined by line number: any shift pairs every later line wrongly
        raise MalformedDataError(f"Tatoeba files are not line-aligned: {path} has {len(src)} lines but "
                                 f"{eng} has {len(tgt)}")
    return [{"id": str(i), "text": s, "target": t} for i, (s, t) in enumerate(zip(src, tgt))]


def _read_id_sentences(path: Path) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise MalformedDataError(f"{path}:{lineno}: expected 'id<TAB>sentence'")
        sid, text = line.split("\t", 1)
        if sid in seen:
            raise MalformedDataError(f"{path}:{lineno}: duplicate sentence id {sid!r}")
        seen.add(sid)
        out.append((sid, text))
    if not out:
        raise MalformedDataError(f"{path}: no sentences")
    return out


@lru_cache(maxsize=8)
def _bucc_targets(path: str, mtime: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pairs = _read_id_sentences(Path(path))
    return tuple(i for i, _ in pairs), tuple(t for _, t in pairs)


def read_bucc(path: Path) -> list[Example]:
    """Source sentences ``{"id", "text", "gold" (English ids), "pool_file" (the .en file)}``."""
    path = Path(path)
    en, gold_path = path.with_suffix(".en"), path.with_suffix(".gold")
    for p, what in ((en, "English sentences"), (gold_path, "gold pairs")):
        if not p.exists():
            raise MissingDataError(f"{path}: BUCC needs the {what} beside it, {p} is missing")
    sources = _read_id_sentences(path)
    target_ids = set(_bucc_targets(str(en), _mtime(en))[0])
    source_ids = {sid for sid, _ in sources}
    gold: dict[str, list[str]] = defaultdict(list)
    for lineno, line in enumerate(_read_lines(gold_path), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 2:
            raise MalformedDataError(f"{gold_path}:{lineno}: expected 'src_id<TAB>en_id'")
        if parts[0] not in source_ids or parts[1] not in target_ids:
            raise MalformedDataError(f"{gold_path}:{lineno}: pair {parts} names a sentence that is not in "
                                     f"{path.name} / {en.name}")
        gold[parts[0]].append(parts[1])
    return [{"id": sid, "text": text, "gold": gold.get(sid, []), "pool_file": str(en)} for sid, text in sources]


@lru_cache(maxsize=16)
def _lareqa_file(path: str, mtime: int) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    """(questions, candidate sentences) of one XQuAD-R file, parsed once."""
    p = Path(path)
    lang = p.stem
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise MalformedDataError(f"{p}: not XQuAD-R JSON with a 'data' list ({e})") from None
    questions: list[dict] = []
    candidates: list[dict] = []
    n_par = 0
    for article in data:
        for par in article.get("paragraphs", []):
            n_par += 1
            if "sentence_breaks" not in par or "context" not in par:
                raise MalformedDataError(f"{p}: paragraph {n_par} has no sentence_breaks/context; "
                                         f"LAReQA needs the XQuAD-R files (lareqa/xquad-r), not plain XQuAD")
            context = par["context"]
            sentences = [context[s:e] for s, e in par["sentence_breaks"]]
            ids = [f"{lang}_{n_par}_{k}" for k in range(len(sentences))]
            for cid, sent in zip(ids, sentences):
                candidates.append({"id": cid, "paragraph": n_par, "sentence": sent, "context": context})
            for qa in par.get("qas", []):
                start = qa["answers"][0]["answer_start"]
                hit = next((k for k, (s, e) in enumerate(par["sentence_breaks"]) if s <= start < e), None)
                if hit is None:  # XTREME-R skips these too (a sentence-breaking error)
                    continue
                # every sentence of the paragraph with the answer sentence's text counts, as in XTREME-R
                answers = [cid for cid, sent in zip(ids, sentences) if sent == sentences[hit]]
                questions.append({"id": qa["id"], "text": qa["question"], "answers": answers,
                                  "paragraph": n_par, "pool_file": str(p)})
    return tuple(questions), tuple(candidates)


def read_lareqa(path: Path) -> list[Example]:
    """Questions ``{"id", "text", "answers" (own-language candidate ids), "paragraph", "pool_file"}``."""
    path = Path(path)
    questions, _ = _lareqa_file(str(path), _mtime(path))
    return [dict(q) for q in questions]  # DataSource adds "lang": never hand out the cached dicts


def _clean(text: str) -> str:
    return " ".join(text.split())


def _mention_query(obj: dict, where: str) -> tuple[str, str, str]:
    """(example_id, query text, gold entity id) of one ContextualMention, XTREME-R's baseline text."""
    try:
        ctx, mention = obj["context"], obj["mention"]
        text, span = ctx["text"], mention["mention_span"]
        start, end, surface = int(span["start"]), int(span["end"]), span["text"]
        spans = [(int(s["start"]), int(s["end"])) for s in ctx.get("sentence_spans", [])]
        example_id, entity = mention["example_id"], mention["entity_id"]
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedDataError(f"{where}: not a Mewsli-X ContextualMention ({e!r})") from None
    # one sentence of context (the whole text if the mention crosses a sentence break)
    s0, e0 = next(((s, e) for s, e in spans if s <= start and end <= e), (0, len(text)))
    left, right = text[s0:start], text[end:e0]
    # braces mark the mention, so existing ones become parentheses
    left, right = (x.replace("{", "(").replace("}", ")") for x in (left, right))
    return example_id, _clean(f"{surface}: {left} {{ {surface} }} {right}"), entity


@lru_cache(maxsize=2)
def _mewslix_entities(path: str, mtime: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ids: list[str] = []
    texts: list[str] = []
    for lineno, line in enumerate(_read_lines(Path(path)), start=1):
        if not line.strip():
            continue
        try:
            ent = json.loads(line)
            desc = ent["description"]
            spans = ent.get("sentence_spans") or [{"start": 0, "end": len(desc)}]
            ids.append(ent["entity_id"])
            texts.append(_clean(" ".join(desc[s["start"]:s["end"]] for s in spans)))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise MalformedDataError(f"{path}:{lineno}: not a Mewsli-X Entity ({e!r})") from None
    return tuple(ids), tuple(texts)


def read_mewslix(path: Path) -> list[Example]:
    """Mentions ``{"id", "text", "gold" ([entity id]), "pool_file" (candidate_set_entities.jsonl)}``."""
    path = Path(path)
    cands = path.with_name("candidate_set_entities.jsonl")
    for p in (path, cands):
        if not p.exists():
            raise MissingDataError(f"{p} not found. {MEWSLIX_HELP}")
    out = []
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise MalformedDataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        example_id, query, entity = _mention_query(obj, f"{path}:{lineno}")
        out.append({"id": example_id, "text": query, "gold": [entity], "pool_file": str(cands)})
    return out


def split_mewslix_mentions(directory: str | os.PathLike, split: str = "test") -> dict[str, int]:
    """Write ``wikinews_mentions-{lang}.jsonl`` from XTREME-R's multilingual ``wikinews_mentions-{split}.jsonl``.

    Returns the number of mentions written per language (the context's ``language`` field).
    """
    directory = Path(directory)
    source = directory / f"wikinews_mentions-{split}.jsonl"
    if not source.exists():
        raise MissingDataError(f"{source} not found. {MEWSLIX_HELP}")
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lineno, line in enumerate(_read_lines(source), start=1):
        if line.strip():
            try:
                by_lang[json.loads(line)["context"]["language"]].append(line)
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise MalformedDataError(f"{source}:{lineno}: not a Mewsli-X ContextualMention ({e!r})") from None
    for lang, lines in by_lang.items():
        (directory / f"wikinews_mentions-{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {lang: len(lines) for lang, lines in sorted(by_lang.items())}


def _hub_pair(row: dict) -> Example:
    # load_hub_split drops rows without a label; pairs are gold by position, so any value will do
    return {"text": row["source_sentence"], "target": row["target_sentence"], "label": 0}


def _hub_unsupported(name: str) -> Callable[[dict], Example]:
    def convert(row: dict) -> Example:
        raise MissingDataError(
            f"{name}: the hub rows do not carry the candidate pool this task retrieves from; use the local "
            f"XTREME-R download (`data_source: local`)" + (f". {MEWSLIX_HELP}" if name == "mewslix" else ""))
    return convert


READERS.update({"tatoeba": read_tatoeba, "bucc": read_bucc, "lareqa": read_lareqa, "mewslix": read_mewslix})
HUB_CONVERTERS.update({"tatoeba_hub": _hub_pair, "bucc_hub": _hub_pair,
                       "lareqa_hub": _hub_unsupported("lareqa"), "mewslix_hub": _hub_unsupported("mewslix")})


# ---------------------------------------------------------------------------------------------
# representations


def _num_layers(model: Any) -> int:
    config = getattr(getattr(model, "encoder", model), "config", None)
    if config is None or not hasattr(config, "num_hidden_layers"):
        raise ValueError(f"cannot tell how many layers {type(model).__name__} has (no config.num_hidden_layers)")
    return int(config.num_hidden_layers)


def resolve_layers(model: Any, options: dict) -> tuple[int, tuple[int, ...]]:
    """(configured layer, layers to compute) as indices into `all_hidden` (0 = embeddings)."""
    n_states = _num_layers(model) + 1
    layer = int(options.get("layer", -1))
    resolved = layer + n_states if layer < 0 else layer
    if not 0 <= resolved < n_states:
        raise ValueError(f"retrieval layer={layer}, but the encoder has {n_states - 1} layers: use 0 (embeddings) "
                         f"to {n_states - 1}, or -1 to -{n_states}")
    return resolved, tuple(range(n_states)) if options.get("all_layers") else (resolved,)


def _hidden_states(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> Sequence[torch.Tensor]:
    if hasattr(model, "all_hidden"):
        return model.all_hidden(ids, mask)
    return model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states


@torch.no_grad()
def encode(model: Any, tokenizer: Any, texts: Sequence[str], layers: Sequence[int], max_length: int,
           batch_size: int, device: Any = "cpu", desc: str = "encode", chunk: int = 65536) -> np.ndarray:
    """L2-normalised mean-pooled states ``[len(texts), len(layers), hidden]`` from one pass per batch.

    Texts are tokenized `chunk` at a time (Mewsli-X has a million candidates) and sorted by length
    within each chunk.
    """
    from ..progress import progress

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: np.ndarray | None = None
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(texts), chunk):
            ids = tokenizer(list(texts[start:start + chunk]), truncation=True, max_length=max_length)["input_ids"]
            for idx in progress(length_sorted_batches([{"length": len(x)} for x in ids], batch_size), desc=desc,
                                unit="batch", leave=False):
                input_ids, mask = pad_sequences([ids[i] for i in idx], pad_id)
                input_ids, mask = input_ids.to(device), mask.to(device)
                states = _hidden_states(model, input_ids, mask)
                pooled = torch.stack([mean_pool(states[k], mask) for k in layers], dim=1).float()
                pooled = F.normalize(pooled, dim=-1).cpu().numpy()
                if out is None:
                    out = np.zeros((len(texts), len(layers), pooled.shape[-1]), dtype=np.float32)
                out[[start + i for i in idx]] = pooled
    finally:
        model.train(was_training)
    return out if out is not None else np.zeros((0, len(layers), 0), dtype=np.float32)


def _model_fingerprint(model: Any) -> str | None:
    """The model folder and its weight files' size and mtime; None when not loaded from a folder."""
    config = getattr(getattr(model, "encoder", model), "config", None)
    folder = Path(str(getattr(config, "_name_or_path", "") or ""))
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    if not files:
        return None
    return json.dumps([str(folder.resolve())] + [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files])


@dataclass
class RetrievalContext:
    """What one evaluation shares across languages: vectors by text and candidate pools."""

    model_ref: Any  # weakref to the model, so a context is never used with another model
    layer: int
    layers: tuple[int, ...]
    max_length: int
    batch_size: int
    device: Any = "cpu"
    limit: int | None = None
    cache_dir: Path | None = None
    fingerprint: str | None = None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # text -> [len(layers), hidden]
    pools: dict[Any, Any] = field(default_factory=dict)
    encoded: int = 0  # texts run through the model (for tests and the record)

    def matches(self, model: Any, layer: int, layers: tuple[int, ...], cfg: EvalConfig) -> bool:
        return (self.model_ref() is model and self.layer == layer and self.layers == layers
                and self.max_length == cfg.max_length)

    def _disk_path(self, texts: list[str]) -> Path | None:
        if self.cache_dir is None or self.fingerprint is None:
            return None
        h = hashlib.sha256(json.dumps([self.fingerprint, self.max_length, list(self.layers)]).encode())
        for t in texts:
            h.update(t.encode("utf-8", "surrogatepass") + b"\0")
        return self.cache_dir / f"{h.hexdigest()[:40]}.npy"

    def embed(self, model: Any, tokenizer: Any, texts: Sequence[str], desc: str = "encode") -> np.ndarray:
        """``[len(texts), len(layers), hidden]``; each distinct text is encoded once per evaluation."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            disk = self._disk_path(missing)
            if disk is not None and disk.exists():
                arr = np.load(disk)
            else:
                arr = encode(model, tokenizer, missing, self.layers, self.max_length, self.batch_size,
                             self.device, desc)
                self.encoded += len(missing)
                if disk is not None:
                    disk.parent.mkdir(parents=True, exist_ok=True)
                    tmp = disk.with_suffix(f".{os.getpid()}.tmp.npy")
                    np.save(tmp, arr)
                    os.replace(tmp, disk)
            for t, v in zip(missing, arr):
                self.vectors[t] = v
        if not texts:
            return np.zeros((0, len(self.layers), 0), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])


# ---------------------------------------------------------------------------------------------
# search


def _topk(queries: torch.Tensor, keys: torch.Tensor, k: int, device: Any = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k cosine similarities per query on `device`, in row chunks of at most ~64M scores, so
    neither BUCC's nor Mewsli-X's full similarity matrix ever exists."""
    keys = keys.to(device)
    chunk = max(1, min(4096, 2 ** 26 // max(1, len(keys))))
    sims, inds = [], []
    for s in range(0, len(queries), chunk):
        v, i = torch.topk(queries[s:s + chunk].to(device) @ keys.T, k, dim=1)
        sims.append(v.cpu())
        inds.append(i.cpu())
    return torch.cat(sims), torch.cat(inds)


def rank(queries: np.ndarray, keys: np.ndarray, k: int, device: Any = "cpu") -> np.ndarray:
    """Indices of the k most similar keys per query, best first (unit vectors: dot = cosine)."""
    k = min(k, len(keys))
    return _topk(torch.from_numpy(np.ascontiguousarray(queries)), torch.from_numpy(np.ascontiguousarray(keys)), k,
                 device)[1].numpy()


def margin_mine(x: np.ndarray, y: np.ndarray, k: int = BUCC_NEIGHBOURS, device: Any = "cpu"
                ) -> list[tuple[int, int, float]]:
    """XTREME's ``mine_bitext(retrieval='max', margin='ratio')`` on unit vectors: ``(i, j, score)`` pairs."""
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    fwd_sim, fwd_ind = _topk(xt, yt, min(k, len(y)), device)
    bwd_sim, bwd_ind = _topk(yt, xt, min(k, len(x)), device)
    fwd_mean, bwd_mean = fwd_sim.mean(1), bwd_sim.mean(1)
    # ratio margin: a pair's cosine relative to how close both sides are to their other neighbours
    fwd_scores = fwd_sim / ((fwd_mean[:, None] + bwd_mean[fwd_ind]) / 2)
    bwd_scores = bwd_sim / ((bwd_mean[:, None] + fwd_mean[bwd_ind]) / 2)
    fwd_best, fwd_arg = fwd_scores.max(1)
    bwd_best, bwd_arg = bwd_scores.max(1)
    src = torch.cat([torch.arange(len(x)), bwd_ind.gather(1, bwd_arg[:, None])[:, 0]]).tolist()
    tgt = torch.cat([fwd_ind.gather(1, fwd_arg[:, None])[:, 0], torch.arange(len(y))]).tolist()
    scores = torch.cat([fwd_best, bwd_best])
    order = torch.argsort(-scores, stable=True).tolist()
    scores_l = scores.tolist()
    seen_src: set[int] = set()
    seen_tgt: set[int] = set()
    out = []
    for c in order:  # greedy one-to-one extraction by descending margin
        i, j = src[c], tgt[c]
        if i in seen_src or j in seen_tgt:
            continue
        seen_src.add(i)
        seen_tgt.add(j)
        if scores_l[c] > 0:
            out.append((i, j, scores_l[c]))
    return out


# ---------------------------------------------------------------------------------------------
# per task: predict, score, export


def _pred(ctx: RetrievalContext, by_layer: dict[int, list], i: int, **extra: Any) -> dict:
    return {"layer": ctx.layer, "by_layer": {k: v[i] for k, v in by_layer.items()}, **extra}


def _main(p: dict) -> Any:
    return p["by_layer"][p["layer"]]


def _with_layers(name: str, preds: list, metric: Callable[[int], float], main: dict[str, float] | None = None
                 ) -> dict[str, float]:
    """The configured layer's metrics first, then ``name@layer<k>`` for every computed layer."""
    out = main if main is not None else {name: metric(preds[0]["layer"])}
    layers = sorted(preds[0]["by_layer"])
    if len(layers) > 1:
        out.update({f"{name}@layer{k}": metric(k) for k in layers})
    return out


def _predict_tatoeba(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                     cfg: EvalConfig) -> list:
    direction = str(cfg.extra.get("direction", "en->x"))
    if direction not in DIRECTIONS:
        raise ValueError(f"tatoeba direction must be one of {DIRECTIONS}, got {direction!r}")
    x = ctx.embed(model, tokenizer, [ex["text"] for ex in examples], f"encode {task.name}")
    en = ctx.embed(model, tokenizer, [ex["target"] for ex in examples], f"encode {task.name} (en)")
    queries, keys = (en, x) if direction == "en->x" else (x, en)
    # numpy argmax: ties go to the lower index, as in metrics.tatoeba_accuracy
    by_layer = {layer: np.argmax(queries[:, k] @ keys[:, k].T, axis=1).tolist() for k, layer in enumerate(ctx.layers)}
    return [_pred(ctx, by_layer, i) for i in range(len(examples))]


def _score_tatoeba(examples: Sequence[Example], preds: list) -> dict[str, float]:
    gold = list(range(len(examples)))
    return _with_layers("accuracy", preds, lambda k: accuracy([p["by_layer"][k] for p in preds], gold))


def _export_tatoeba(examples: Sequence[Example], preds: list) -> list[str]:
    return [str(_main(p)) for p in preds]


def _gold_targets(ex: Example) -> list[str]:
    return list(ex["gold"]) if "gold" in ex else [ex["id"]]  # hub rows are gold pairs themselves


def _bucc_pool(ctx: RetrievalContext, examples: Sequence[Example]) -> tuple[list[str], list[str]]:
    """Target (ids, texts): the .en file (cut down under a limit), or the hub rows' own targets."""
    if "pool_file" not in examples[0]:
        return [ex["id"] for ex in examples], [ex["target"] for ex in examples]
    path = Path(examples[0]["pool_file"])
    ids, texts = _bucc_targets(str(path), _mtime(path))
    if ctx.limit is None:
        return list(ids), list(texts)
    keep = {t for ex in examples for t in ex["gold"]} | set(ids[:ctx.limit])
    chosen = [(i, t) for i, t in zip(ids, texts) if i in keep]
    return [i for i, _ in chosen], [t for _, t in chosen]


def _unique(ids: Sequence[str], texts: Sequence[str]) -> tuple[list[str], dict[str, str | None]]:
    """Distinct texts in order, and each text's id (None when several ids share it)."""
    owner: dict[str, str | None] = {}
    for i, t in zip(ids, texts):
        owner[t] = None if t in owner else i
    return list(owner), owner


def _predict_bucc(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                  cfg: EvalConfig) -> list:
    tgt_ids, tgt_texts = _bucc_pool(ctx, examples)
    src_u, src_owner = _unique([ex["id"] for ex in examples], [ex["text"] for ex in examples])
    tgt_u, tgt_owner = _unique(tgt_ids, tgt_texts)
    x = ctx.embed(model, tokenizer, src_u, f"encode {task.name}")
    y = ctx.embed(model, tokenizer, tgt_u, f"encode {task.name} (en)")
    by_layer: dict[int, list] = {}
    for k, layer in enumerate(ctx.layers):
        mined: dict[str, list] = {}
        for i, j, s in margin_mine(x[:, k], y[:, k], device=ctx.device):
            src, tgt = src_owner[src_u[i]], tgt_owner[tgt_u[j]]
            if src is not None and tgt is not None:  # XTREME's read_sent2id drops repeated sentences
                mined[src] = [tgt, s]
        by_layer[layer] = [mined.get(ex["id"]) for ex in examples]
    return [_pred(ctx, by_layer, i) for i in range(len(examples))]


def _bucc_result(examples: Sequence[Example], preds: list, layer: int) -> dict[str, float]:
    gold = [(ex["id"], t) for ex in examples for t in _gold_targets(ex)]
    if not gold:
        raise ValueError(f"bucc: none of the {len(examples)} source sentences has a gold pair, so F1 is undefined; "
                         f"evaluate more examples per language")
    cands = [(ex["id"], v[0], v[1]) for ex, p in zip(examples, preds) if (v := p["by_layer"][layer]) is not None]
    # threshold=None: chosen to maximise F1 on these gold pairs, as XTREME does on the BUCC dev set
    return bucc_f1(cands, gold, threshold=None)


def _score_bucc(examples: Sequence[Example], preds: list) -> dict[str, float]:
    r = _bucc_result(examples, preds, preds[0]["layer"])
    main = {"f1": r["f1"], "precision": r["precision"], "recall": r["recall"], "threshold": r["threshold"]}
    return _with_layers("f1", preds, lambda k: _bucc_result(examples, preds, k)["f1"], main)


def _export_bucc(examples: Sequence[Example], preds: list) -> list[str]:
    threshold = _bucc_result(examples, preds, preds[0]["layer"])["threshold"]
    return [f"{ex['id']}\t{v[0]}" for ex, p in zip(examples, preds)
            if (v := _main(p)) is not None and v[1] >= threshold]


def _lareqa_text(c: dict, with_context: bool) -> str:
    return f"{c['sentence']} {c['context']}" if with_context else c["sentence"]


def _build_lareqa_pool(per_lang: dict[str, Sequence[Example]], restrict: bool, with_context: bool) -> dict:
    """Candidates of every language and, per question id, its answer sentences in all of them."""
    ids: list[str] = []
    texts: list[str] = []
    relevant: dict[str, set[str]] = defaultdict(set)
    for lang, exs in per_lang.items():
        paragraphs = {ex["paragraph"] for ex in exs}
        for f in dict.fromkeys(ex["pool_file"] for ex in exs):
            for c in _lareqa_file(f, _mtime(Path(f)))[1]:
                if not restrict or c["paragraph"] in paragraphs:
                    ids.append(c["id"])
                    texts.append(_lareqa_text(c, with_context))
        for ex in exs:  # question ids are shared across languages: XQuAD-R is parallel
            relevant[ex["id"]].update(ex["answers"])
    return {"langs": set(per_lang), "ids": ids, "texts": texts, "relevant": relevant}


def _prepare_lareqa(ctx: RetrievalContext, model: Any, task: Task, source: Any, languages: list[str],
                    limit: int | None, tokenizer: Any, cfg: EvalConfig) -> None:
    per_lang = {lang: source.load(task, "test", lang, limit=limit) for lang in languages}
    pool = _build_lareqa_pool(per_lang, limit is not None, bool(cfg.extra.get("candidate_context", False)))
    ctx.pools["lareqa"] = pool
    pool["matrix"] = ctx.embed(model, tokenizer, pool["texts"], f"encode {task.name} pool")


def _ranked(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, queries: Sequence[str],
            pool: dict) -> dict[int, list]:
    """Top-20 pool ids per query and layer; the pool's stacked vectors are kept in `pool`."""
    q = ctx.embed(model, tokenizer, queries, f"encode {task.name}")
    if "matrix" not in pool:  # stacking a large pool again for every language would cost more than the search
        pool["matrix"] = ctx.embed(model, tokenizer, pool["texts"], f"encode {task.name} pool")
    c, ids = pool["matrix"], pool["ids"]
    return {layer: [[ids[j] for j in row] for row in rank(q[:, k], c[:, k], TOP_K, ctx.device)]
            for k, layer in enumerate(ctx.layers)}


def _predict_lareqa(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                    cfg: EvalConfig) -> list:
    pool = ctx.pools.get("lareqa")
    langs = {ex.get("lang") for ex in examples}
    if pool is None or not langs <= pool["langs"]:
        # no prepare (or another language): the pool holds only these questions' own language
        print(f"[intertask] {task.name}: candidate pool built from {sorted(map(str, langs))} only (prepare "
              f"builds it from every language of the evaluation)")
        pool = _build_lareqa_pool({str(lg): [ex for ex in examples if ex.get("lang") == lg] for lg in langs},
                                  ctx.limit is not None, bool(cfg.extra.get("candidate_context", False)))
    by_layer = _ranked(ctx, model, tokenizer, task, [ex["text"] for ex in examples], pool)
    return [_pred(ctx, by_layer, i, relevant=sorted(pool["relevant"][ex["id"]])) for i, ex in enumerate(examples)]


def _prepare_mewslix(ctx: RetrievalContext, model: Any, task: Task, source: Any, languages: list[str],
                     limit: int | None, tokenizer: Any, cfg: EvalConfig) -> None:
    missing = [lang for lang in languages if not source.available(task, "test", lang)]
    if missing:
        raise MissingDataError(f"{task.name}: no test data for {', '.join(missing)} in {source.data_dir}. "
                               f"{MEWSLIX_HELP}")


def _predict_mewslix(ctx: RetrievalContext, model: Any, tokenizer: Any, task: Task, examples: Sequence[Example],
                     cfg: EvalConfig) -> list:
    path = Path(examples[0]["pool_file"])
    ids, texts = _mewslix_entities(str(path), _mtime(path))
    if ctx.limit is None:  # the same candidate set for every language: encode and stack it once
        pool = ctx.pools.setdefault(("mewslix", str(path)), {"ids": ids, "texts": texts})
    else:
        keep = {g for ex in examples for g in ex["gold"]} | set(ids[:ctx.limit])
        chosen = [(i, t) for i, t in zip(ids, texts) if i in keep]
        pool = {"ids": [i for i, _ in chosen], "texts": [t for _, t in chosen]}
    by_layer = _ranked(ctx, model, tokenizer, task, [ex["text"] for ex in examples], pool)
    return [_pred(ctx, by_layer, i, relevant=list(ex["gold"])) for i, ex in enumerate(examples)]


def _score_map(examples: Sequence[Example], preds: list) -> dict[str, float]:
    relevant = [p["relevant"] for p in preds]
    return _with_layers(f"map@{TOP_K}", preds,
                        lambda k: mean_average_precision_at_k([p["by_layer"][k] for p in preds], relevant, TOP_K))


def _export_rankings(examples: Sequence[Example], preds: list) -> str:
    return json.dumps({ex["id"]: _main(p) for ex, p in zip(examples, preds)}, ensure_ascii=False, indent=1) + "\n"


@dataclass(frozen=True)
class RetrievalKind:
    """How one retrieval task predicts, scores and exports; `prepare` builds shared pools."""

    predict: Callable[..., list]
    score: Callable[[Sequence[Example], list], dict[str, float]]
    export: Callable[[Sequence[Example], list], list[str] | str]
    prepare: Callable[..., None] | None = None


KINDS: dict[str, RetrievalKind] = {
    "tatoeba": RetrievalKind(_predict_tatoeba, _score_tatoeba, _export_tatoeba),
    "bucc": RetrievalKind(_predict_bucc, _score_bucc, _export_bucc),
    "lareqa": RetrievalKind(_predict_lareqa, _score_map, _export_rankings, _prepare_lareqa),
    "mewslix": RetrievalKind(_predict_mewslix, _score_map, _export_rankings, _prepare_mewslix),
}


def kind_of(task: Task) -> RetrievalKind:
    """The task's entry in `KINDS`: by name, else by its local reader (a new task reusing a format)."""
    for key in (task.name, task.local.reader if task.local else None):
        if key in KINDS:
            return KINDS[key]
    raise NotImplementedError(f"retrieval task {task.name!r} has no entry in KINDS; have {sorted(KINDS)}")


# ---------------------------------------------------------------------------------------------
# the family


class Retrieval(Family):
    name = "retrieval"
    trainable = False

    def _untrained(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("retrieval tasks are evaluated zero-shot from representations; they have no "
                                  "training data, head or loss")

    featurize = collate = forward = loss = _untrained  # type: ignore[assignment]

    def new_context(self, model: Any, cfg: EvalConfig, limit: int | None = None) -> RetrievalContext:
        layer, layers = resolve_layers(model, cfg.extra)
        cache_dir = cfg.extra.get("cache_dir")
        return RetrievalContext(weakref.ref(model), layer, layers, cfg.max_length, cfg.batch_size, cfg.device,
                                limit, Path(cache_dir) if cache_dir else None,
                                _model_fingerprint(model) if cache_dir else None)

    def context(self, model: Any, cfg: EvalConfig) -> RetrievalContext:
        """The evaluation's context from `prepare`, or a fresh one (kept in ``cfg.extra``) when absent or stale."""
        ctx = cfg.extra.get("context")
        layer, layers = resolve_layers(model, cfg.extra)
        if not isinstance(ctx, RetrievalContext) or not ctx.matches(model, layer, layers, cfg):
            ctx = self.new_context(model, cfg)
            cfg.extra["context"] = ctx
        return ctx

    def prepare(self, model: Any, task: Task, source: Any, languages: list[str], limit: int | None,
                tokenizer: Any, cfg: EvalConfig) -> RetrievalContext:
        """A context for the whole evaluation; LAReQA's multilingual pool is read and encoded here."""
        model.to(cfg.device)
        ctx = self.new_context(model, cfg, limit)
        kind = kind_of(task)
        if kind.prepare is not None:
            kind.prepare(ctx, model, task, source, list(languages), limit, tokenizer, cfg)
        return ctx

    def predict(self, model: Any, task: Task, examples: Sequence[Example], tokenizer: Any, cfg: EvalConfig) -> list:
        """Per example ``{"layer", "by_layer": {layer: prediction}}`` (+ ``"relevant"`` for mAP tasks)."""
        if not examples:
            return []
        return kind_of(task).predict(self.context(model, cfg), model, tokenizer, task, examples, cfg)

    def score(self, task: Task, examples: Sequence[Example], predictions: list, lang: str) -> dict[str, float]:
        if len(predictions) != len(examples) or not examples:
            raise ValueError(f"{task.name} ({lang}): {len(predictions)} predictions for {len(examples)} examples")
        return kind_of(task).score(examples, predictions)

    def export_lines(self, task: Task, examples: Sequence[Example], predictions: list) -> list[str] | str:
        return kind_of(task).export(examples, predictions)


register_family(Retrieval())
