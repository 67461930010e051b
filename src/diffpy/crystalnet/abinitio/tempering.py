"""Parallel tempering of a batch of trial structures.

Every configuration in a :class:`~diffpy.crystalnet.abinitio.trial.TrialBatch`
runs a short ladder of replicas at increasing temperature (Metropolis
moves of one site's or of all free coordinates, step sizes adapted to an
acceptance of about a third, occasional jumps of one site anywhere in the
cell and swaps of two sites of the same Wyckoff position), and neighbouring
temperatures exchange states.  All replicas move at once: one cost call
per step.
"""

import numpy as np

__all__ = ["Ladder", "temper"]

#: temperatures (in units of the cost) of a ladder, coldest first
TEMPERATURES = (0.002, 0.006, 0.015, 0.04)
#: step sizes in angstrom: start, smallest, largest
STEP = (0.3, 0.01, 2.0)
_ACCEPT = 0.35
#: fraction of the steps that move a single site (the others move all)
ONE_SITE = 0.7


class Ladder:
    """The state of a batch under tempering: generators, costs, steps.

    Parameters
    ----------
    batch : TrialBatch
        Replicas ordered configuration-major: ``len(temperatures)``
        consecutive replicas share a configuration.
    rng : numpy.random.Generator
    v : numpy.ndarray, optional
        Start generators (default random).
    temperatures : sequence of float, optional
    """

    def __init__(self, batch, rng, v=None, temperatures=TEMPERATURES):
        self.batch = batch
        self.rng = rng
        k = len(temperatures)
        if batch.n_replicas % k:
            raise ValueError("replicas must be a multiple of the ladder")
        self.k = k
        self.temp = np.tile(
            np.asarray(temperatures, float), batch.n_replicas // k
        )
        self.v = batch.random_generators(rng)
        if v is not None:
            width = min(self.v.shape[1], np.shape(v)[1])
            self.v[:, :width] = np.asarray(v)[:, :width]
            self.v = np.where(batch.free, self.v, 0.0)
        self.cost, self.r_i, self.bump = batch.cost(self.v)
        self.step = np.full(batch.n_replicas, STEP[0])
        self.best_v = self.v.copy()
        self.best_cost = self.cost.copy()
        self.best_r = self.r_i.copy()
        self.best_bump = self.bump.copy()
        self.inv_len = 1.0 / np.linalg.norm(batch.matrix, axis=1)
        self.accepted = np.zeros(batch.n_replicas)
        self.tried = 0
        self.swap_parity = 0
        movable = batch.free.any(-1) & (batch.site_index >= 0)
        self.movable = movable

    def _propose(self):
        b, rng = self.batch, self.rng
        n, s = b.n_replicas, self.v.shape[1]
        shift = rng.normal(size=self.v.shape)
        shift *= self.step[:, None, None] * self.inv_len[None, None, :]
        # most steps move one site (all coordinates at once is a random walk
        # too small to go anywhere once there are tens of them)
        one = rng.random(n) < ONE_SITE
        weights = self.movable / np.maximum(self.movable.sum(1), 1)[:, None]
        pick = (rng.random(n)[:, None] > np.cumsum(weights, 1)).sum(1)
        mask = np.ones((n, s), dtype=bool)
        mask[one] = False
        mask[one, np.minimum(pick[one], s - 1)] = True
        prop = self.v + np.where(b.free & mask[:, :, None], shift, 0.0)
        kind = rng.random(n)
        jump = (kind < 0.05) & self.movable.any(1)
        for r in np.nonzero(jump)[0]:
            choices = np.nonzero(self.movable[r])[0]
            site = rng.choice(choices)
            prop[r, site] = np.where(b.free[r, site], rng.random(3), 0.0)
        swap = kind > 0.95
        for r in np.nonzero(swap)[0]:
            idx = b.site_index[r]
            els = b.site_el[r]
            a = rng.integers(s)
            same = np.nonzero((idx == idx[a]) & (els != els[a]))[0]
            if idx[a] >= 0 and len(same):
                c = rng.choice(same)
                prop[r, [a, c]] = self.v[r, [c, a]]
        return prop

    def sweep(self, steps):
        """Run ``steps`` Metropolis steps with exchanges every 5."""
        for i in range(int(steps)):
            prop = self._propose()
            cost, r_i, bump = self.batch.cost(prop)
            delta = cost - self.cost
            ok = (delta <= 0) | (
                self.rng.random(len(delta))
                < np.exp(-np.clip(delta / self.temp, 0, 50))
            )
            self.v[ok] = prop[ok]
            self.cost[ok], self.r_i[ok], self.bump[ok] = (
                cost[ok],
                r_i[ok],
                bump[ok],
            )
            self.accepted += ok
            self.tried += 1
            better = self.cost < self.best_cost
            self.best_cost[better] = self.cost[better]
            self.best_v[better] = self.v[better]
            self.best_r[better] = self.r_i[better]
            self.best_bump[better] = self.bump[better]
            if self.tried % 20 == 0:
                rate = self.accepted / self.tried
                self.step *= np.exp(np.clip(rate - _ACCEPT, -0.3, 0.3) * 2)
                np.clip(self.step, STEP[1], STEP[2], out=self.step)
                self.accepted[:] = 0
                self.tried = 0
            if i % 5 == 4:
                self._exchange()

    def _exchange(self):
        k = self.k
        self.swap_parity ^= 1
        lo = np.arange(self.swap_parity, k - 1, 2)
        if not len(lo):
            return
        base = np.arange(0, self.batch.n_replicas, k)[:, None]
        i = (base + lo[None, :]).ravel()
        j = i + 1
        arg = (self.cost[i] - self.cost[j]) * (
            1 / self.temp[i] - 1 / self.temp[j]
        )
        ok = self.rng.random(len(i)) < np.exp(np.clip(arg, -50, 0))
        i, j = i[ok], j[ok]
        for arr in (self.v, self.cost, self.r_i, self.bump):
            arr[i], arr[j] = arr[j].copy(), arr[i].copy()

    def config_best(self):
        """Per configuration: (best cost, replica index of it)."""
        cost = self.best_cost.reshape(-1, self.k)
        arg = cost.argmin(1)
        rows = np.arange(cost.shape[0]) * self.k + arg
        return self.best_cost[rows], rows


def temper(batch, rng, steps, v=None, temperatures=TEMPERATURES):
    """Run a ladder for ``steps`` and return it (see :class:`Ladder`)."""
    ladder = Ladder(batch, rng, v=v, temperatures=temperatures)
    ladder.sweep(steps)
    return ladder
