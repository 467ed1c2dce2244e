"""Scalar reward models as a backend: a sequence classifier with one label (the Skywork-Reward
family, which the RRM paper compares against) scores a conversation, it does not write one.

A request's messages are the conversation to score, ``[user: question, assistant: answer]``;
the model sees it through its chat template (no generation prompt: the answer is part of it),
and its score is ``logits[0][0]``, as the Skywork-Reward model cards compute it. The score comes
back as a ``Completion`` whose text is ``repr(score)`` (a float's repr reads back exactly) and
whose ``finish_reason`` is ``"score"``, so the judgment store keeps scores as it keeps
completions: keyed by model, revision, numerics (device class and dtype) and the rendered
conversation. ``rrmlib.judge.ScalarJudge`` turns scores into verdicts and best-of-N picks.

Batches are right-padded with the model's ``pad_token_id``: the classifier pools its last token
that is not padding, so a padded row gets the score it gets alone, up to floating-point rounding
(positions and causal attention of the real tokens are unchanged). A model with no ``pad_token_id`` is scored one
conversation at a time.
"""
from __future__ import annotations


from rrmlib import models
from rrmlib.backends.base import Backend, Completion, RendersChatTemplate, Request

SCORE = "score"  # the finish_reason of a stored score


class ClassifierBackend(RendersChatTemplate, Backend):
    name = "classifier"
    special_tokens = "template"  # scores the conversation's template tokens (stream), and counts them so

    def __init__(self, model: str | None = None, *, device: str = "auto", dtype: str = "auto", batch_size: int = 16):
        if model is None:
            raise ValueError("backend 'classifier' needs model=: a sequence classifier with one label, a local "
                             "folder or a hub id (e.g. Skywork/Skywork-Reward-Llama-3.1-8B-v0.2)")
        loaded, tokenizer, model_id, revision = models.load_torch(model, "AutoModelForSequenceClassification",
                                                                   device, dtype)
        self._setup(loaded, tokenizer, model_id=model_id, revision=revision, batch_size=batch_size)

    @classmethod
    def from_model(cls, model, tokenizer, *, model_id: str, revision: str = "", batch_size: int = 16):
        """A scorer over a classifier already in memory (on its device, in its dtype)."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, model_id=model_id, revision=revision, batch_size=batch_size)
        return self

    def _setup(self, model, tokenizer, *, model_id, revision, batch_size):
        labels = getattr(model.config, "num_labels", None)
        if labels != 1:
            raise ValueError(f"{model_id}: a scalar reward model has one output (num_labels=1); this one has {labels}")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.model_id, self.revision = model_id, revision
        self.device, self.dtype = model.device, model.dtype
        self.numerics = f"{self.device.type}:{str(self.dtype).replace('torch.', '')}"
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        self.context_length = getattr(config, "max_position_embeddings", None)
        self.pad_id = getattr(config, "pad_token_id", None)
        self.batch_size = batch_size if self.pad_id is not None else 1

    # The conversation as the model scores it: its chat template, answer included, no generation prompt.
    GENERATION_PROMPT = False

    def is_reasoning(self) -> bool:
        return False

    def stream(self, requests: list[Request]):
        """Scores in batches of similar length, as ``(index, Completion)`` chunks, one per batch."""
        ids = [self.prompt_ids(self.prompt_text(r.messages)) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: (len(ids[i]), i))
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            scores = self.score_ids([ids[i] for i in batch])
            yield [(i, Completion(text=repr(s), prompt_tokens=len(ids[i]), completion_tokens=0, finish_reason=SCORE))
                   for i, s in zip(batch, scores)]

    def score_ids(self, seqs: list[list[int]]) -> list[float]:
        """``logits[0][0]`` of each token sequence, in one forward pass (right-padded)."""
        import torch

        longest = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), longest), self.pad_id if self.pad_id is not None else 0, dtype=torch.long)
        mask = torch.zeros((len(seqs), longest), dtype=torch.long)
        for row, s in enumerate(seqs):
            input_ids[row, :len(s)] = torch.tensor(s, dtype=torch.long)
            mask[row, :len(s)] = 1
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).logits
        return [float(x) for x in logits[:, 0].float().cpu().tolist()]

    def describe(self) -> dict:
        return {**super().describe(), "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "batch_size": self.batch_size, "score": "logits[0][0] of the chat-templated [user, assistant] turns"}
