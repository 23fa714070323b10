"""Attention transfer and KD against the original's formulas, worked out in numpy."""

import numpy as np
import pytest
import torch

from budgetsearch.errors import ConfigError
from budgetsearch.training import DistillConfig, attention_transfer_loss, distillation_kl, student_loss


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_attention_transfer_is_beta_3_over_m_times_summed_mse():
    rng = np.random.default_rng(0)
    student = [rng.normal(size=(4, 16)), rng.normal(size=(4, 4))]
    teacher = [rng.normal(size=(4, 16)), rng.normal(size=(4, 4))]
    expected = 1e3 * 3 / 2 * sum(((s - t) ** 2).mean() for s, t in zip(student, teacher))
    got = attention_transfer_loss([torch.tensor(s) for s in student], [torch.tensor(t) for t in teacher], 1e3)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_attention_maps_must_match():
    with pytest.raises(ConfigError, match="number"):
        attention_transfer_loss([torch.zeros(2, 4)], [torch.zeros(2, 4)] * 2, 1.0)
    with pytest.raises(ConfigError, match="shape"):
        attention_transfer_loss([torch.zeros(2, 4)], [torch.zeros(2, 9)], 1.0)


def test_kd_term_is_2_t2_times_elementwise_mean_kl():
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(5, 10)) * 3, rng.normal(size=(5, 10)) * 3
    temperature = 4.0
    p_teacher, p_student = _softmax(t / temperature), _softmax(s / temperature)
    kl = (p_teacher * (np.log(p_teacher) - np.log(p_student))).mean()  # mean over batch x classes
    got = distillation_kl(torch.tensor(s), torch.tensor(t), temperature)
    assert float(got) == pytest.approx(2 * temperature ** 2 * kl, rel=1e-5)


def test_student_loss_combines_the_terms():
    rng = np.random.default_rng(2)
    s, t = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
    labels = rng.integers(0, 10, size=6)
    maps_s, maps_t = [torch.tensor(rng.normal(size=(6, 8)))], [torch.tensor(rng.normal(size=(6, 8)))]
    config = DistillConfig("unused.pt", beta=10.0, alpha=0.3, temperature=2.0)
    terms = student_loss(torch.tensor(s), maps_s, torch.tensor(t), maps_t, torch.tensor(labels), config)
    ce = -np.log(_softmax(s)[np.arange(6), labels]).mean()
    at = 10.0 * 3 * ((maps_s[0].numpy() - maps_t[0].numpy()) ** 2).mean()
    p_t, p_s = _softmax(t / 2), _softmax(s / 2)
    kd = 2 * 4 * (p_t * (np.log(p_t) - np.log(p_s))).mean()
    assert float(terms["ce"]) == pytest.approx(ce, rel=1e-5)
    assert float(terms["at"]) == pytest.approx(at, rel=1e-5)
    assert float(terms["kd"]) == pytest.approx(kd, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(0.3 * kd + 0.7 * ce + at, rel=1e-5)
