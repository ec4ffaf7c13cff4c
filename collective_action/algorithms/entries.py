"""The registry's entries: one small class per learning algorithm (DomainBed style).

Hyper-parameters, with their defaults and ranges, are the ``Params`` models below; they are the
only place a default is written. docs/algorithms.md lists them and gives the recipe for a new
entry.
"""

from __future__ import annotations

from array_api_compat import array_namespace
from pydantic import Field

from collective_action.experiment import StrictModel

from . import rules
from .base import Algorithm, Start, predicted


def _theory():
    from collective_action import theory  # sympy: loaded only when a prediction is asked for

    return theory


class NoParams(StrictModel):
    pass


class ERM(Algorithm):
    """Empirical risk minimisation: every point weighs one."""

    name = "erm"
    label = "ERM"
    Params = NoParams

    def weigh(self, state, losses, idx=None):
        return {"main": rules.uniform_weights(losses["main"])}, None

    def predict_alpha_eff(self, alpha, collective_mean=1.0, base_mean=1.0):
        return predicted(lambda a: _theory().alpha_eff(a, 1.0, 1.0), alpha)


class JTTParams(StrictModel):
    T: int = Field(1, ge=1, description="stage-1 ERM training length: epochs (empirical) or gradient "
                   "steps (simulate; a full-batch step is one epoch)")
    upweight: float = Field(20.0, ge=1.0, description="lambda: weight of the stage-1 model's errors")


class JTT(Algorithm):
    """Just Train Twice: ERM for T epochs, then a fresh model with the stage-1 errors upweighted.

    The objective is mean(w * loss) / mean_all(w): weights normalised over the whole training set,
    so that the step size means what it means for ERM. Statistic: the stage-1 error (e*, e0).
    """

    name = "jtt"
    label = "JTT"
    Params = JTTParams
    statistic = "stage1_error"
    stat_columns = ("e_star", "e0")
    shown = ("T", "upweight")
    shared = ("T",)

    def stage1_length(self):
        return int(self.values["T"]) if not self.batched else int(self.params[0].T)

    def start(self, s: Start):
        if s.stage1_errors is None:
            raise ValueError("jtt needs the stage-1 model's errors")
        xp = array_namespace(s.stage1_errors)
        w = rules.jtt_weights(s.stage1_errors, self.values["upweight"], s.dtype)
        return {"weights": w, "errors": xp.astype(s.stage1_errors, s.dtype),
                "scale": xp.mean(w, axis=-1, keepdims=True)}

    def weigh(self, state, losses, idx=None):
        if idx is None:
            return {"main": state["weights"]}, state["errors"]
        return {"main": state["weights"][idx]}, state["errors"][idx]

    def normaliser(self, state):
        return state["scale"]

    def predict_alpha_eff(self, alpha, collective_mean, base_mean):
        up = self.values["upweight"]
        return predicted(lambda a, u, es, e0: _theory().alpha_eff_jtt(a, u, es, e0), alpha, up,
                         collective_mean, base_mean)


class CVaRParams(StrictModel):
    beta: float = Field(0.2, gt=0.0, le=1.0, description="tail share whose mean loss is minimised (1: ERM)")


class CVaR(Algorithm):
    """CVaR-DRO at level beta: weight 1/beta on the top beta-share of losses (exact fractional tail).

    Statistic: the point's mass in the tail, w * beta in [0, 1]; its collective mean is the
    collective's tail share.
    """

    name = "cvar"
    label = "CVaR-DRO"
    Params = CVaRParams
    statistic = "tail_mass"
    stat_columns = ("tail_share", None)
    adaptive = True
    shown = ("beta",)

    def weigh(self, state, losses, idx=None):
        beta = self.values["beta"]
        w = rules.cvar_weights(losses["main"], beta)
        xp = array_namespace(w)
        return {"main": w}, w * rules.as_column(xp, beta, w)

    def predict_alpha_eff(self, alpha, collective_mean, base_mean=None):
        return predicted(lambda a, b, q: _theory().alpha_eff_cvar(a, b, q), alpha, self.values["beta"],
                         collective_mean)


class Chi2Params(StrictModel):
    rho: float = Field(1.0, gt=0.0, description="radius of the chi-square ball around the uniform weights")


class Chi2DRO(Algorithm):
    """chi-square DRO: weights proportional to (loss - eta)_+, eta making the divergence rho.

    Statistic: the excess loss (loss - eta)_+.
    """

    name = "chi2"
    label = "chi2-DRO"
    Params = Chi2Params
    statistic = "excess_loss"
    stat_columns = ("collective_excess", "base_excess")
    adaptive = True
    shown = ("rho",)

    def weigh(self, state, losses, idx=None):
        loss = losses["main"]
        w, eta = rules.chi2_weights(loss, self.values["rho"])
        xp = array_namespace(w)
        return {"main": w}, xp.clip(loss - eta, min=0.0)

    def predict_alpha_eff(self, alpha, collective_mean, base_mean):
        return predicted(lambda a, c, b: _theory().alpha_eff_chi2(a, c, b), alpha, collective_mean, base_mean)


class LfFParams(StrictModel):
    q: float = Field(0.7, gt=0.0, le=1.0, description="generalised cross-entropy exponent of the biased model")
    ema: float = Field(0.7, ge=0.0, lt=1.0, description="decay of the per-point loss averages (0: the "
                       "latest losses only)")


class LfF(Algorithm):
    """Learning from Failure: a biased model b trained with generalised cross-entropy (GCE) steers
    the weights W = CE_b / (CE_b + CE_d) of the debiased model d, from averages of both losses.

    GCE enters as a weighting of cross-entropy (its gradient is p_y^q times cross-entropy's).
    The class-wise normalisation of the original paper is left out: it rescales within a class
    and would hide the collective's share. Statistic: the weight W.
    """

    name = "lff"
    label = "LfF"
    Params = LfFParams
    models = ("biased", "main")
    statistic = "weight"
    stat_columns = ("collective_mean_weight", "base_mean_weight")
    adaptive = True
    shown = ("q", "ema")

    def start(self, s: Start):
        xp = array_namespace(s.labels)
        zeros = xp.zeros(s.labels.shape, dtype=s.dtype, device=rules.device_of(s.labels))
        return {"ema_biased": zeros, "ema_main": xp.zeros_like(zeros)}

    def weigh(self, state, losses, idx=None):
        decay = rules.as_column(array_namespace(losses["main"]), self.values["ema"], losses["main"])
        for model in ("biased", "main"):
            key = f"ema_{model}"
            if idx is None:
                state[key] = rules.exponential_average(state[key], losses[model], decay)
            else:
                state[key][idx] = rules.exponential_average(state[key][idx], losses[model], decay)
        pick = (lambda a: a) if idx is None else (lambda a: a[idx])
        w = rules.lff_weights(pick(state["ema_biased"]), pick(state["ema_main"]))
        return {"biased": rules.gce_weights(losses["biased"], self.values["q"]), "main": w}, w

    def predict_alpha_eff(self, alpha, collective_mean, base_mean):
        return predicted(lambda a, c, b: _theory().alpha_eff_lff(a, c, b), alpha, collective_mean, base_mean)


class GroupDROParams(StrictModel):
    eta_q: float = Field(0.01, gt=0.0, description="step size of the exponentiated-gradient group weights")


class GroupDRO(Algorithm):
    """Group DRO (Sagawa et al. 2020): exponentiated-gradient ascent on the group weights q.

    Groups are the data set's groups where it has them, else the classes (a collective lands in
    the group of its reported label). Statistic: the weight.
    """

    name = "group-dro"
    label = "group DRO"
    Params = GroupDROParams
    statistic = "weight"
    stat_columns = ("collective_mean_weight", "base_mean_weight")
    adaptive = True
    shown = ("eta_q",)

    def start(self, s: Start):
        xp = array_namespace(s.labels)
        groups = s.groups if s.groups is not None else s.labels
        G = s.n_groups
        shape = tuple(s.labels.shape[:-1]) + (G,)
        return {"groups": groups, "n_groups": G,
                "q": xp.full(shape, 1.0 / G, dtype=s.dtype, device=rules.device_of(s.labels)),
                "group_loss": None}

    def weigh(self, state, losses, idx=None):
        g = state["groups"] if idx is None else state["groups"][idx]
        w, state["q"], state["group_loss"] = rules.group_dro_step(state["q"], losses["main"], g, state["n_groups"],
                                                                  self.values["eta_q"])
        return {"main": w}, w

    def predict_alpha_eff(self, alpha, collective_mean, base_mean):
        return predicted(lambda a, c, b: _theory().alpha_eff(a, c, b), alpha, collective_mean, base_mean)


class LabelSmoothingParams(StrictModel):
    smoothing: float = Field(0.1, ge=0.0, lt=1.0, description="share of each target moved to the uniform "
                             "distribution over classes")


class LabelSmoothing(ERM):
    """ERM on label-smoothed targets: it changes the loss, not the weights (every point weighs one),
    so theory's effective size is alpha itself. The simulator runs it with ``schedule: steps``."""

    name = "label-smoothing"
    label = "label smoothing"
    Params = LabelSmoothingParams
    changes_loss = True
    shown = ("smoothing",)

    def targets(self, onehot):
        return rules.smoothed_targets(onehot, self.values["smoothing"])

    def loss(self, logits, y):
        return rules.smoothed_cross_entropy(logits, y, self.values["smoothing"])


class DPSGDParams(StrictModel):
    max_grad_norm: float = Field(1.0, gt=0.0, description="C: every point's gradient is clipped to norm <= C")
    noise_multiplier: float = Field(1.0, ge=0.0, description="sigma: Gaussian noise of std sigma * C is added "
                                    "to the sum of clipped gradients of each batch")
    delta: float = Field(1e-5, gt=0.0, lt=1.0, description="the delta at which the privacy spent (epsilon) is reported")


class DPSGD(ERM):
    """DP-SGD (Abadi et al. 2016): per-sample gradient clipping and Gaussian noise, batches drawn by
    Poisson sampling, the privacy spent computed by Opacus's RDP accountant. Every point weighs one
    in the loss (theory's effective size is alpha); what changes is the step: no point, member or
    not, moves the model by more than C per step, and the noise drowns weak signals."""

    name = "dp-sgd"
    label = "DP-SGD"
    Params = DPSGDParams
    pillars = frozenset({"empirical", "simulate"})
    private = True
    shown = ("max_grad_norm", "noise_multiplier")


ENTRIES: tuple[type[Algorithm], ...] = (ERM, JTT, CVaR, Chi2DRO, LfF, GroupDRO, LabelSmoothing, DPSGD)
