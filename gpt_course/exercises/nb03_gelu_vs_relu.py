"""Exercise checks for notebook 03 (GELU vs ReLU)."""

import inspect
import math

import torch

from ..book.nb03_gelu import GELU, gelu_exact
from ..language import tr
from .sandbox import teacher
from .base import NotYet, Verdict, answer_check, as_float, no_answer_yet
from .code_check import Case, Mistake, check_function, check_module


def _near(value, target, tol):
    return abs(value - target) <= tol


def gelu_gradient(x, exact=False):
    """d GELU / dx at every point of x, by autograd, in float64 (tanh
    approximation, or the exact GELU)."""
    xg = torch.as_tensor(x, dtype=torch.float64).detach().clone().requires_grad_(True)
    (gelu_exact(xg) if exact else GELU()(xg)).sum().backward()
    return xg.grad


def steepest_descent(exact=False):
    """(x, GELU'(x)) where GELU's gradient is most negative, on a fine grid.
    For the exact GELU, GELU'' = phi(x) * (2 - x**2): the point is x = -sqrt(2)."""
    x = torch.linspace(-3, 0, 300_001, dtype=torch.float64)
    grad = gelu_gradient(x, exact)
    i = int(grad.argmin())
    return float(x[i]), float(grad[i])


@answer_check(as_float, "give one number: the x (two decimals are enough)")
def check_steepest_descent(value):
    """Exercise 1: at which x is GELU's gradient smallest (most negative),
    i.e. where does GELU fall most steeply? Two decimals are enough."""
    x_tanh, g_tanh = steepest_descent()
    x_exact, _ = steepest_descent(exact=True)
    if _near(value, -0.752, 0.02):
        raise NotYet("that is GELU's minimum, where its gradient is 0; the question asks where "
                     "the gradient is most negative (further left).")
    if _near(value, -x_tanh, 0.02) or _near(value, -x_exact, 0.02):
        raise NotYet("there the gradient is largest (above 1); look at negative x, where it "
                     "dips below 0.")
    if _near(value, g_tanh, 0.005):
        raise NotYet("that is the smallest gradient itself; the question asks at which x it "
                     "is reached.")
    if _near(value, -0.17, 0.005):
        raise NotYet("that is GELU's smallest value; the question asks at which x its "
                     "gradient is smallest.")
    if not (_near(value, x_tanh, 0.01) or _near(value, x_exact, 0.01)):
        if _near(value, x_exact, 0.05):
            raise NotYet("close; give two decimals (the grid you search needs steps of 0.01 "
                          "or finer).")
        raise NotYet("compute GELU's gradient on a fine grid (derivative(GELU(), xs) of "
                     "section 6, with more points) and take the x where it is smallest "
                     "(argmin); give that x.")
    return tr("GELU's gradient is most negative at x = {x:.2f}, where it is {gradient:.3f}. "
              "For the exact GELU the second derivative is phi(x) * (2 - x**2), zero at "
              "x = -sqrt(2) = -1.414. Moving right, the gradient falls until there, then "
              "climbs: through 0 at GELU's minimum (-0.75), 0.5 at 0, and about 1.13 at "
              "+sqrt(2).", x=x_tanh, gradient=g_tanh)


GRADIENT_POINT = -2.5


@answer_check(as_float, "give one number (a float or a one-element tensor), "
                        "four decimals are enough")
def check_gelu_gradient(value):
    """Exercise 2: the gradient of the course's GELU (the tanh version) at x = -2.5.
    ReLU's gradient there is 0; GELU's is small but not zero."""
    target = float(gelu_gradient([GRADIENT_POINT])[0])
    exact = float(gelu_gradient([GRADIENT_POINT], exact=True)[0])
    point = torch.tensor([GRADIENT_POINT], dtype=torch.float64)
    values = [float(GELU()(point)[0]), float(gelu_exact(point)[0])]
    if _near(value, target, 1e-4):
        return tr("GELU'(-2.5) = {gradient:.4f}: small and negative, but not zero, so a unit "
                  "with a negative input still gets a learning signal (ReLU's gradient there "
                  "is exactly 0).", gradient=target)
    if _near(value, exact, 1e-4):
        raise NotYet(tr("{gradient:.4f} is the gradient of the exact GELU (erf); the question "
                        "asks for the course's GELU, the tanh approximation: use GELU()(x).",
                        gradient=exact))
    if value == 0:
        raise NotYet("0 is ReLU's gradient for every negative x; GELU's is not 0.")
    if any(_near(value, v, 1e-4) for v in values):
        raise NotYet("that is GELU's value at -2.5, not its gradient: call .backward() and "
                     "read x.grad.")
    if _near(-value, target, 1e-4):
        raise NotYet("the sign: at -2.5 GELU is still falling (its gradient is negative).")
    raise NotYet("make x = torch.tensor(-2.5, requires_grad=True), compute GELU()(x), call "
                 ".backward() and read x.grad.")


# ---------------------------------------------------------------- your turn

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
CUBIC = 0.044715


def gelu_tanh(x, *, factor=SQRT_2_OVER_PI, cubic=CUBIC, power=3, half=0.5):
    """GELU's tanh form, with the parts learners get wrong as arguments."""
    return half * x * (1 + torch.tanh(factor * (x + cubic * x ** power)))


_WRONG_CUBIC = "the constant in front of x**3 is 0.044715 (zero point zero four four seven " \
               "one five): check its digits."

GELU_MISTAKES = [
    Mistake("that is the exact GELU, x * Phi(x) with erf (also what F.gelu and nn.GELU give "
            "by default); write the tanh form GPT-2 was trained with: "
            "0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))). The two differ by "
            "up to 5e-4.",
            lambda ref, x: gelu_exact(x)),
    *[Mistake(_WRONG_CUBIC, lambda ref, x, k=k: gelu_tanh(x, cubic=k))
      for k in (0.44715, 0.0447, 0.04475, 0.4471, 0.004715, 0.04715)],
    Mistake("the factor is sqrt(2 / pi) = 0.7979, you used sqrt(pi / 2) = 1.2533: "
            "math.sqrt(2 / math.pi).",
            lambda ref, x: gelu_tanh(x, factor=math.sqrt(math.pi / 2))),
    Mistake("the square root is missing: the factor is sqrt(2 / pi) = 0.7979, not "
            "2 / pi = 0.6366.",
            lambda ref, x: gelu_tanh(x, factor=2 / math.pi)),
    Mistake("the factor 0.5 in front is missing: your output is twice GELU's.",
            lambda ref, x: gelu_tanh(x, half=1.0)),
    Mistake("the term is 0.044715 * x**3 (x cubed, torch.pow(x, 3)), not x squared.",
            lambda ref, x: gelu_tanh(x, power=2)),
    Mistake("the 0.044715 * x**3 term is missing inside tanh: "
            "tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)).",
            lambda ref, x: gelu_tanh(x, cubic=0.0)),
    Mistake("tanh is applied to sqrt(2 / pi) alone: its closing parenthesis comes too early. "
            "tanh takes the whole sqrt(2 / pi) * (x + 0.044715 * x**3).",
            lambda ref, x: 0.5 * x * (1 + math.tanh(SQRT_2_OVER_PI) * (x + CUBIC * x ** 3))),
    Mistake("sqrt(2 / pi) multiplies x only: put (x + 0.044715 * x**3) in parentheses, "
            "sqrt(2 / pi) * (x + 0.044715 * x**3).",
            lambda ref, x: 0.5 * x * (1 + torch.tanh(SQRT_2_OVER_PI * x + CUBIC * x ** 3))),
    Mistake("sqrt(2 / pi) is outside tanh: it belongs inside, "
            "tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)).",
            lambda ref, x: 0.5 * x * (1 + SQRT_2_OVER_PI * torch.tanh(x + CUBIC * x ** 3))),
    Mistake("your output is the gate 0.5 * (1 + tanh(...)) alone: GELU multiplies it by x.",
            lambda ref, x: 0.5 * (1 + torch.tanh(SQRT_2_OVER_PI * (x + CUBIC * x ** 3)))),
    Mistake("that is GELU's sigmoid approximation, x * sigmoid(1.702 * x); write the tanh form: "
            "0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))).",
            lambda ref, x: x * torch.sigmoid(1.702 * x)),
]


def _gelu_cases():
    gen = torch.Generator().manual_seed(3)
    return [
        # steps of 0.05 from -4 to 4, exactly 0 included (a division by x shows there)
        Case(torch.arange(-80, 81) / 20.0, note="x from -4 to 4"),
        Case(torch.randn(2, 5, 8, generator=gen) * 2, note="batch 2, 5 tokens, 8 features"),
        Case(torch.randn(1, 3, 7, generator=gen) * 1.5, note="batch 1, odd sizes"),
        Case(torch.arange(-40, 41, dtype=torch.float64) / 10, note="float64, x from -4 to 4"),
    ]


@teacher
def check_gelu(answer):
    """Your turn: the learner's GELU, an nn.Module class whose forward they
    wrote (or a plain function of x), against the course's tanh GELU on
    several inputs in [-4, 4]. The tolerance (1e-6) is tight enough to tell
    0.0447 from 0.044715. Recognises: the exact (erf) GELU, a wrong cubic
    constant, sqrt(pi/2) or 2/pi for sqrt(2/pi), 0.5 missing, x**2 for x**3,
    the cubic term missing, misplaced parentheses (tanh of the constant only,
    sqrt(2/pi) on x only or outside tanh), the gate without x, and the sigmoid
    approximation."""
    settings = dict(
        name="GELU", cases=_gelu_cases(), mistakes=GELU_MISTAKES, atol=1e-6, rtol=1e-6,
        success="your GELU gives the course's tanh GELU on every input (x from -4 to 4, "
                "batches of 1 and 2, float32 and float64), to 1e-6: "
                "0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))).",
        hint="write 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * "
             "(x + 0.044715 * torch.pow(x, 3)))) and compare with the formula piece by piece.",
    )
    if no_answer_yet(answer):
        return Verdict(False)
    if inspect.isfunction(answer):  # a plain Python function gelu(x) is fine too
        return check_function(answer, reference=GELU(), context=GELU(), **settings)
    return check_module(answer, build=lambda cls: cls(), reference=GELU, **settings)
