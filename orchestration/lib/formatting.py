"""How shares and lifts are written for people (terminal summary, report)."""


def percent(value: float | None) -> str:
    """A share: 0.4444 -> '44.4 %'; None (no denominator) -> 'n/a'."""
    return "n/a" if value is None else f"{100 * value:.1f} %"


def percentage_points(share: float) -> str:
    """A difference of two shares in percentage points: 0.231 -> '+23.1'."""
    return f"{share * 100:+.1f}"


def lift_text(lift: float, low: float, high: float) -> str:
    return (f"{percentage_points(lift)} pp (95% CI {percentage_points(low)} to "
            f"{percentage_points(high)} pp)")
