"""pluralign.llm.trl: records both ways, trl's DPOTrainer through dpo_trainer, and WeightedDPOTrainer
against trl's DPOTrainer and pluralign.dpo on a tiny GPT-2 (built from a GPT2Config with a word-level
tokenizer, saved with save_pretrained and reloaded; one torch thread)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("trl")
pytest.importorskip("datasets")

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402
from trl import DPOTrainer  # noqa: E402

from pluralign.data import Choices, to_trl_records  # noqa: E402
from pluralign.dpo import dpo_loss_pairwise, weighted_kwise_dpo_loss  # noqa: E402
from pluralign.llm.trl import (  # noqa: E402
    REF_COLUMNS,
    WEIGHT,
    WeightCollator,
    WeightedDPOTrainer,
    choices_from_dataset,
    cpu_dpo_config,
    dpo_trainer,
    preference_dataset,
    reference_logps,
    with_reference_logps,
    with_weights,
)
from pluralign.seeding import torch_generator  # noqa: E402

pytestmark = pytest.mark.llm

BETA = 0.5
WORDS = "which color is best for the sky sea a red blue green grey dark light very".split()
PROMPTS = ["which color is best", "the sky is", "the sea is very", "which is best for the sky"]
RESPONSES = [" red", " blue", " dark green", " very light grey", " a light blue", " grey"]
# (prompt, chosen, rejected): completions of different lengths, so batches are padded
PAIRS = [(0, 0, 1), (1, 2, 3), (2, 4, 5), (3, 1, 0), (0, 3, 2), (1, 5, 4), (2, 0, 4), (3, 2, 1)]


def _tokenizer() -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "</s>", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>")


def _model(seed: int, vocab_size: int) -> GPT2LMHeadModel:
    cfg = GPT2Config(vocab_size=vocab_size, n_positions=32, n_embd=16, n_layer=1, n_head=2,
                     pad_token_id=1, bos_token_id=2, eos_token_id=2, tie_word_embeddings=False)
    with torch.device("meta"):
        model = GPT2LMHeadModel(cfg)
    model = model.to_empty(device="cpu")
    g = torch_generator(seed, "tiny-gpt2")
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.normal_(0.0, 0.3, generator=g)
    return model


@pytest.fixture(scope="module")
def lm_dirs(tmp_path_factory):
    """Two tiny GPT-2s (policy and reference, different draws) with the tokenizer, saved to disk."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny_gpt2")
    tok = _tokenizer()
    out = {}
    for name, seed in (("policy", 0), ("ref", 1)):
        path = root / name
        _model(seed, len(tok)).save_pretrained(path)
        tok.save_pretrained(path)
        out[name] = path
    return out


def _load(path):
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _records(weights=None):
    w = np.ones(len(PAIRS)) if weights is None else np.asarray(weights, dtype=float)
    return [{"prompt": PROMPTS[p], "chosen": RESPONSES[c], "rejected": RESPONSES[r], "user": i % 3, "id": i,
             WEIGHT: float(w[i])} for i, (p, c, r) in enumerate(PAIRS)]


def _trainer(cls, lm_dirs, tmp_path, records, per_device_eval_batch_size=8, **kw):
    torch.set_num_threads(1)
    model, tok = _load(lm_dirs["policy"])
    ref, _ = _load(lm_dirs["ref"])
    args = cpu_dpo_config(str(tmp_path / cls.__name__), beta=BETA, per_device_train_batch_size=4, max_steps=2,
                          learning_rate=1e-2, logging_steps=1, per_device_eval_batch_size=per_device_eval_batch_size)
    return cls(model=model, ref_model=ref, args=args, train_dataset=Dataset.from_list(records),
               processing_class=tok, **kw)


def _loss_grads(trainer, idx, weights=None):
    ds = trainer.train_dataset
    examples = [dict(ds[int(i)]) for i in idx]
    if weights is not None:
        for ex, w in zip(examples, weights):
            ex[WEIGHT] = float(w)
    batch = trainer.data_collator(examples)
    trainer.model.zero_grad()
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    return loss.detach(), grads, batch


def _max_diff(g1, g2):
    assert g1.keys() == g2.keys() and g1
    return max(float((g1[k] - g2[k]).abs().max()) for k in g1)


def _plain_logps(model, batch):
    """Summed completion log-probs from the plain HF forward (logits -> log_softmax), independent of trl."""
    ids, att, comp = batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    logits = model(input_ids=ids, attention_mask=att).logits[:, :-1]
    lp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
    s = (lp * comp[:, 1:]).sum(1)
    return s.chunk(2)


# --------------------------------------------------------------------------- (a) weights 1 == trl
def test_all_weights_one_equal_trl_loss_gradients_and_pluralign_dpo(lm_dirs, tmp_path):
    ours = _trainer(WeightedDPOTrainer, lm_dirs, tmp_path, _records())
    theirs = _trainer(DPOTrainer, lm_dirs, tmp_path, _records())
    idx = [0, 1, 2, 3]
    l1, g1, batch = _loss_grads(ours, idx)
    l2, g2, _ = _loss_grads(theirs, idx)
    assert abs(float(l1) - float(l2)) < 1e-6
    assert _max_diff(g1, g2) < 1e-6
    assert abs(float(l1) - math.log(2)) > 1e-3  # policy != reference: the comparison is not trivial

    # pluralign.dpo on log-probs from a plain forward of fresh copies of the same models
    policy, _ = _load(lm_dirs["policy"])
    ref, _ = _load(lm_dirs["ref"])
    c, r = _plain_logps(policy, batch)
    with torch.no_grad():
        rc, rr = _plain_logps(ref, batch)
    np.testing.assert_allclose(batch[REF_COLUMNS[0]].numpy(), rc.numpy(), atol=1e-5)
    np.testing.assert_allclose(batch[REF_COLUMNS[1]].numpy(), rr.numpy(), atol=1e-5)
    loss = dpo_loss_pairwise(c, r, rc, rr, BETA)
    assert abs(float(loss) - float(l2)) < 1e-6
    loss.backward()
    g3 = {n: p.grad for n, p in policy.named_parameters() if p.grad is not None}
    assert _max_diff(g1, g3) < 1e-6


# --------------------------------------------------------------------------- (b) weight 0 drops a record
def test_weight_zero_drops_a_record_exactly(lm_dirs, tmp_path):
    ours = _trainer(WeightedDPOTrainer, lm_dirs, tmp_path, _records())
    l_w, g_w, _ = _loss_grads(ours, [0, 1, 2, 3], weights=[1, 0, 1, 1])
    l_d, g_d, _ = _loss_grads(ours, [0, 2, 3])
    assert abs(float(l_w) - float(l_d)) < 1e-6
    assert _max_diff(g_w, g_d) < 1e-6
    l_all, _, _ = _loss_grads(ours, [0, 1, 2, 3])
    assert abs(float(l_all) - float(l_d)) > 1e-4  # record 1 does matter when weighted


def test_all_zero_weights_do_not_train_but_trl_ignores_them(lm_dirs, tmp_path):
    zero = _records(np.zeros(len(PAIRS)))
    before = {n: p.detach().clone() for n, p in _load(lm_dirs["policy"])[0].named_parameters()}
    ours = _trainer(WeightedDPOTrainer, lm_dirs, tmp_path, zero)
    ours.train()
    assert all(torch.equal(before[n], p.detach()) for n, p in ours.model.named_parameters())
    theirs = _trainer(DPOTrainer, lm_dirs, tmp_path, zero)  # the silent drop this trainer exists for
    theirs.train()
    assert any(not torch.equal(before[n], p.detach()) for n, p in theirs.model.named_parameters())


# --------------------------------------------------------------------------- (c) non-uniform weights
@pytest.mark.parametrize("normalize", ["sum_weights", "count"])
def test_weighted_loss_is_pluralign_dpo_weighted_loss(lm_dirs, tmp_path, normalize):
    ours = _trainer(WeightedDPOTrainer, lm_dirs, tmp_path, _records(), weight_normalize=normalize)
    w = torch.tensor([0.2, 1.5, 0.0, 3.0])
    l1, g1, batch = _loss_grads(ours, [4, 5, 6, 7], weights=w.tolist())
    policy, _ = _load(lm_dirs["policy"])
    ref, _ = _load(lm_dirs["ref"])
    c, r = _plain_logps(policy, batch)
    with torch.no_grad():
        rc, rr = _plain_logps(ref, batch)
    loss = weighted_kwise_dpo_loss(torch.stack([c, r], 1), torch.stack([rc, rr], 1), BETA, weights=w,
                                   normalize=normalize)
    assert abs(float(loss) - float(l1)) < 1e-6
    # by hand: -sum w log sigma(beta * margin) / Z
    margin = BETA * ((c - rc) - (r - rr))
    z = w.sum() if normalize == "sum_weights" else len(w)
    assert abs(float(-(w * torch.nn.functional.logsigmoid(margin)).sum() / z) - float(l1)) < 1e-6
    loss.backward()
    assert _max_diff(g1, {n: p.grad for n, p in policy.named_parameters() if p.grad is not None}) < 1e-6


def test_cached_reference_columns_are_used_as_given(lm_dirs, tmp_path):
    """EM-DPO's pi_SFT log-probs, computed once (reference_logps) and put in the dataset, are what the
    trainer uses: trl does not recompute them for a new set of weights."""
    model, tok = _load(lm_dirs["ref"])
    args = cpu_dpo_config(str(tmp_path / "ref"), beta=BETA, per_device_train_batch_size=4)
    ds = Dataset.from_list(_records())
    rc, rr = reference_logps(model, tok, ds, args)
    shifted = with_reference_logps(ds, rc - 1.0, rr)  # a known, different reference
    ours = _trainer(WeightedDPOTrainer, lm_dirs, tmp_path, shifted.to_list())
    np.testing.assert_allclose(np.asarray(ours.train_dataset[REF_COLUMNS[0]]), rc - 1.0, atol=1e-6)
    l1, _, batch = _loss_grads(ours, [0, 1, 2, 3])
    policy, _ = _load(lm_dirs["policy"])
    with torch.no_grad():
        c, r = _plain_logps(policy, batch)
    ref_c = torch.as_tensor(rc[:4] - 1.0, dtype=torch.float32)
    ref_r = torch.as_tensor(rr[:4], dtype=torch.float32)
    assert abs(float(dpo_loss_pairwise(c, r, ref_c, ref_r, BETA)) - float(l1)) < 1e-6
    ds2 = with_weights(shifted, np.arange(len(PAIRS), dtype=float))
    assert ds2[WEIGHT] == list(map(float, range(len(PAIRS))))
    assert ds2[REF_COLUMNS[0]] == shifted[REF_COLUMNS[0]]


# --------------------------------------------------------------------------- (d) bad weights
@pytest.mark.parametrize("bad", ["missing", -1.0, float("nan"), float("inf"), None])
def test_bad_weight_column_is_a_value_error(lm_dirs, tmp_path, bad):
    recs = _records()
    if bad == "missing":
        for r in recs:
            del r[WEIGHT]
    else:
        recs[2][WEIGHT] = bad
    with pytest.raises(ValueError, match="weight"):
        _trainer(WeightedDPOTrainer, lm_dirs, tmp_path, recs)


def test_weight_collator_rejects_bad_examples():
    coll = WeightCollator(lambda exs: {"n": len(exs)})
    assert coll([{WEIGHT: 1.0}, {WEIGHT: 0}])[WEIGHT].tolist() == [1.0, 0.0]
    for bad in ({}, {WEIGHT: -0.5}, {WEIGHT: float("nan")}, {WEIGHT: "1"}):
        with pytest.raises(ValueError, match="batch example 1"):
            coll([{WEIGHT: 1.0}, bad])


def test_unsupported_loss_settings_are_value_errors(lm_dirs, tmp_path):
    model, tok = _load(lm_dirs["policy"])
    for kw in ({"loss_type": ["ipo"]}, {"ld_alpha": 0.5}, {"use_weighting": True}):
        args = cpu_dpo_config(str(tmp_path / "x"), **kw)
        with pytest.raises(ValueError, match=f"args.{next(iter(kw))}"):
            WeightedDPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(_records()),
                               processing_class=tok)
    with pytest.raises(ValueError, match="weight_normalize"):
        WeightedDPOTrainer(model=model, args=cpu_dpo_config(str(tmp_path / "x")),
                           train_dataset=Dataset.from_list(_records()), processing_class=tok, weight_normalize="mean")


# --------------------------------------------------------------------------- vanilla DPO through trl
def test_dpo_trainer_checks_reference_and_weights(lm_dirs, tmp_path):
    tok = _tokenizer()
    built = _model(0, len(tok))  # built from a config: config._name_or_path is empty
    args = cpu_dpo_config(str(tmp_path / "v"), precompute_ref_log_probs=False)
    ds = Dataset.from_list(_records())
    with pytest.raises(ValueError, match="_name_or_path"):
        dpo_trainer(built, tok, ds, args)
    model, tok = _load(lm_dirs["policy"])
    with pytest.raises(ValueError, match="WeightedDPOTrainer"):
        dpo_trainer(model, tok, Dataset.from_list(_records(np.linspace(0, 1, len(PAIRS)))),
                    cpu_dpo_config(str(tmp_path / "v")))
    tr = dpo_trainer(built, tok, ds, cpu_dpo_config(str(tmp_path / "v"), max_steps=1))  # precomputed reference
    assert type(tr) is DPOTrainer
    assert tr.train().global_step == 1


# --------------------------------------------------------------------------- (e) records both ways
def _choices(n_options: int) -> tuple[Choices, list[str], list[str]]:
    opts = np.array([[0, 1, 2], [3, 4, 5], [1, 0, 4], [2, 5, 3]])[:, :n_options]
    return (Choices(user=np.array([0, 1, 1, 2]), context=np.array([0, 1, 2, 0]), options=opts,
                    chosen=np.array([0, 2, 1, 0]) % n_options, weight=np.array([1.0, 0.25, 0.0, 2.0]),
                    user_names=np.array(["ann", "bo", "cy"], dtype=object)),
            PROMPTS[:3], RESPONSES)


@pytest.mark.parametrize("n_options", [2, 3])
def test_records_round_trip(n_options):
    choices, prompts, responses = _choices(n_options)
    ds = preference_dataset(choices, prompts, responses)
    assert set(ds.column_names) >= {"prompt", "chosen", "rejected", "user", "id", WEIGHT}
    assert isinstance(ds[0]["rejected"], str) == (n_options == 2)  # trl's own format for pairs
    back, p2, r2 = choices_from_dataset(ds)
    np.testing.assert_array_equal(back.weight, choices.weight)
    recs = to_trl_records(back, p2, r2)
    expected = to_trl_records(choices, prompts, responses)
    for a, b in zip(recs, expected):
        assert a["prompt"] == b["prompt"] and a["chosen"] == b["chosen"] and a["user"] == b["user"]
        rej_a = [a["rejected"]] if isinstance(a["rejected"], str) else a["rejected"]
        rej_b = [b["rejected"]] if isinstance(b["rejected"], str) else b["rejected"]
        assert sorted(rej_a) == sorted(rej_b)
    # responsibilities of type k as weights, and a list of dicts as the source
    gamma = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    ds_k = preference_dataset(choices, prompts, responses, weights=gamma[choices.user, 1])
    back_k, _, _ = choices_from_dataset(ds_k.to_list())
    np.testing.assert_allclose(back_k.weight, gamma[choices.user, 1])
    assert choices_from_dataset(ds_k, weight=None)[0].weight.tolist() == [1.0] * 4


def test_bad_records_name_the_record():
    choices, prompts, responses = _choices(3)
    empty = list(responses)
    empty[4] = "  "
    with pytest.raises(ValueError, match=r"records\[1\]: an empty response"):
        preference_dataset(choices, prompts, empty)
    dup = list(responses)
    dup[5] = dup[3]
    with pytest.raises(ValueError, match=r"records\[1\]: a response appears twice"):
        preference_dataset(choices, prompts, dup)
    with pytest.raises(ValueError, match=r"weight of record 2"):
        preference_dataset(choices, prompts, responses, weights=[1.0, 1.0, -1.0, 1.0])
    recs = preference_dataset(choices, prompts, responses).to_list()
    del recs[3][WEIGHT]
    with pytest.raises(ValueError, match=r"records\[3\]: no 'weight'"):
        choices_from_dataset(recs)


def test_kwise_records_are_refused_by_the_trainers(lm_dirs, tmp_path):
    choices, prompts, responses = _choices(3)
    ds = preference_dataset(choices, prompts, responses)
    model, tok = _load(lm_dirs["policy"])
    with pytest.raises(ValueError, match=r"train_dataset\[0\]: 'rejected' is a list"):
        WeightedDPOTrainer(model=model, args=cpu_dpo_config(str(tmp_path / "k")), train_dataset=ds,
                           processing_class=tok)


# --------------------------------------------------------------------------- LoRA (peft), as EM-DPO uses it
def test_lora_adapter_weights_one_equal_trl(lm_dirs, tmp_path):
    peft = pytest.importorskip("peft")

    def lora():
        return peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["c_attn"],
                               fan_in_fan_out=True, task_type="CAUSAL_LM")

    out = []
    for cls in (WeightedDPOTrainer, DPOTrainer):
        model, tok = _load(lm_dirs["policy"])
        args = cpu_dpo_config(str(tmp_path / cls.__name__), beta=BETA, per_device_train_batch_size=4)
        tr = cls(model=model, args=args, train_dataset=Dataset.from_list(_records()), processing_class=tok,
                 peft_config=lora())
        out.append(_loss_grads(tr, [0, 1, 2, 3]))
    (l1, g1, _), (l2, g2, _) = out
    assert g1 and all("lora" in n for n in g1)
    assert abs(float(l1) - float(l2)) < 1e-6
    assert _max_diff(g1, g2) < 1e-6
    assert max(float(g.abs().max()) for g in g1.values()) > 1e-4

    model, tok = _load(lm_dirs["policy"])
    named = peft.get_peft_model(model, lora(), adapter_name="type0")
    with pytest.raises(ValueError, match="'default'"):
        WeightedDPOTrainer(model=named, args=cpu_dpo_config(str(tmp_path / "n")),
                           train_dataset=Dataset.from_list(_records()), processing_class=tok)


def test_trained_lora_adapter_keeps_the_sft_reference(lm_dirs, tmp_path):
    """A PeftModel whose "default" adapter is already trained (EM iteration t > 0): the reference is the base
    model (pi_SFT), where trl would copy the adapter as "ref"; sft_reference=False keeps trl's choice."""
    peft = pytest.importorskip("peft")
    base, _ = _load(lm_dirs["policy"])
    lp_base = None
    refs = {}
    for sft in (True, False):
        model, tok = _load(lm_dirs["policy"])
        pm = peft.get_peft_model(model, peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                                        target_modules=["c_attn"], fan_in_fan_out=True))
        g = torch_generator(3, "trained-adapter")
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if "lora_" in n:  # A and B: the same adapter in both runs, and not a fresh one (B != 0)
                    p.normal_(0.0, 0.5, generator=g)
        tr = WeightedDPOTrainer(model=pm, args=cpu_dpo_config(str(tmp_path / f"s{sft}"), beta=BETA,
                                                               per_device_train_batch_size=4),
                                train_dataset=Dataset.from_list(_records()), processing_class=tok,
                                sft_reference=sft)
        assert ("ref" in pm.peft_config) == (not sft)
        _, _, batch = _loss_grads(tr, [0, 1, 2, 3])
        refs[sft] = batch[REF_COLUMNS[0]]
        if lp_base is None:
            with torch.no_grad():
                lp_base = _plain_logps(base, batch)[0]
                with pm.disable_adapter():
                    assert torch.allclose(_plain_logps(pm, batch)[0], lp_base, atol=1e-5)
                lp_adapter = _plain_logps(pm, batch)[0]
    np.testing.assert_allclose(refs[True].numpy(), lp_base.numpy(), atol=1e-5)
    np.testing.assert_allclose(refs[False].numpy(), lp_adapter.numpy(), atol=1e-5)
    assert float((lp_adapter - lp_base).abs().max()) > 1e-3


def test_evaluate_uses_the_weights(lm_dirs, tmp_path):
    """trl's evaluate() on a dataset passed to it (tokenised and given reference log-probs there) goes
    through the weighted loss: one batch of all records gives the weighted pluralign.dpo loss."""
    w = np.linspace(0.0, 2.0, len(PAIRS))
    ours = _trainer(WeightedDPOTrainer, lm_dirs, tmp_path, _records(), per_device_eval_batch_size=len(PAIRS))
    metrics = ours.evaluate(eval_dataset=Dataset.from_list(_records(w)))
    _, _, batch = _loss_grads(ours, range(len(PAIRS)), weights=w)
    policy, _ = _load(lm_dirs["policy"])
    ref, _ = _load(lm_dirs["ref"])
    with torch.no_grad():
        c, r = _plain_logps(policy, batch)
        rc, rr = _plain_logps(ref, batch)
    loss = dpo_loss_pairwise(c, r, rc, rr, BETA, weights=torch.as_tensor(w, dtype=torch.float32))
    assert abs(metrics["eval_loss"] - float(loss)) < 1e-5
    with pytest.raises(ValueError, match="'weight' is None"):
        ours.evaluate(eval_dataset=Dataset.from_list(_records()).remove_columns(WEIGHT))
