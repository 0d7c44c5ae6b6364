"""The SimPy reference engine: the chip model of SPEC §3, one SimPy process per block.

Meant to be read next to docs/chip-model.md, and to agree to the byte with the fast
engine (`speksim.engine.fast`), which implements the same rules in numba.

Processes (SPEC §3): the input link (T1), each core's service (T3, T5) and output stage (T4),
the DVS layer's service and output stage (T11), the readout's service and its tick (F7, T11) and
the host output (T7). A process wakes only when something observable happens and
its effect cannot be computed ahead; everything else follows from the rules arithmetically:

- The SynOps of a job are applied when its service starts (docs/chip-model.md: functional work at
  service start) and their completion times follow from T3. Only its own server adds to an
  output queue, so a spike completing while the queue has a free slot *now* cannot find it full:
  the server puts it in the queue at once, marked with the time it enters (T3), and the stage
  takes it when that time has come. The server wakes at a completion only when the queue may be
  full then (T4), and a job's end is known as soon as its last spike is in the queue.
- A server that is idle with an empty FIFO and gets no leak jobs (T5) will start the next event
  at the later of its availability and the end of the last job, whatever else happens: it serves
  events as they arrive, as at their start, and the FIFO keeps their slots until then (T2). A
  sender waiting for such a slot is woken when it frees. The server's process takes over again
  when a spike may find the output queue full, until the FIFO is empty.

So a process wakes to start a copy (T0, T4), to send an input (T1), to start a job that could
not be foreseen (a leak job, or an event queued behind a job that may stall) and when a spike may
find its output queue full.

One nanosecond is settled in rounds (docs/chip-model.md, T0): the slow-clock tick first, then the
servers, then the senders in rank order, again until nothing changes. SimPy's order of same-time
events is not trusted for this: ticks are scheduled with URGENT priority (before every server
action), server actions run at NORMAL priority, and the senders' turn is taken by one arbiter,
scheduled at a priority below NORMAL, so it starts only when every server action of the
nanosecond is done. It asks the senders in rank order (input link 0, DVS stage 1, core k's stage
2 + k, the readout 12) to make their transfer (T0).

The end of a run (T12) is a time known before it starts: end_ns, or else the drain limit,
drain_ns after the last input's timestamp. Every instant up to it is simulated and none after;
nothing is computed ahead past it (a job that would start later is not served at once), and what
is left at the end is read off the blocks (`_end_state`).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from ..blocks import sender_rank
from ..config import RunOptions
from ..errors import DeadlockError
from ..kernels import leak_job, scatter_event
from .base import deadlock_error
from .compiled import (C_BAL, C_BOFF, C_CIN, C_COUT, C_DECN, C_EVNS, C_HIN, C_HOUT, C_K, C_LEAK, C_LEAKNS, C_NCOPY,
                       C_NOFF, C_PX, C_PY, C_ROUTENS, C_RTZ, C_SPKCAP, C_SX, C_SY, C_SYNNS, C_THI, C_TLO, C_WIN,
                       C_WOFF, C_WOUT, D_CX, D_CY, D_DIAG, D_EVNS, D_MERGE, D_MX, D_MY, D_NCOPY, D_OFF, D_ON, D_OX,
                       D_OY, D_PASS, D_PX, D_PY, D_ROUTENS, DVS, HOST_OUT, K_TARGET, N_BLOCKS, N_CORES, P_HOST_IN_LAT,
                       P_HOST_IN_NS, P_HOST_OUT_LAT, P_HOST_OUT_NS, P_LEAK_FIRE, P_READOUT_NS, P_RO_ERRATA,
                       P_RO_LAYER, P_RO_MON, P_RO_PIN, P_RO_SEL, P_RO_THRESH, P_RO_TICK, P_RO_WINDOW, P_TICK_NS,
                       P_WRAP, READOUT, S_CONGESTION, S_COPIES, S_DECIMATED, S_DVSFILT, S_FIFOMAX, S_IN, S_LEAKJOBS,
                       S_LEAKMERGED, S_OOR, S_OUTMAX, S_PENDING, S_SERVED, S_SPIKES, CompiledNetwork, EngineInput,
                       RawResult)
from .readout import (RS_AVG, RS_CLASS, RS_END, RS_FREE, RS_NEXT, new_state, readout_class, readout_count,
                      readout_tick)
from .recorder import Recorder

#: Priority of the senders' turn: after the tick (URGENT) and every server action (NORMAL).
_SENDERS = NORMAL + 1

_INF = float("inf")


def _fire(env: simpy.Environment, event: simpy.Event, delay: int, priority: int = NORMAL, value=None) -> None:
    """Trigger `event` with `value`, `delay` ns from now: what `simpy.Timeout` does for a new
    event, here for an event a process already waits on or one that carries a callback."""
    event._ok = True
    event._value = value
    env.schedule(event, priority, delay)


# ----------------------------------------------------------------------------------------------
# FIFOs and the senders' arbiter (SPEC T0, T2)
# ----------------------------------------------------------------------------------------------

class _Fifo:
    """A block's input FIFO (T2): `depth` slots, taken when a transfer starts (T0) and freed when
    the block starts serving the event, in the order the transfers started.

    `entries` (available_at_ns, payload, start_ns) wait for the block's process. `served` holds
    the service starts of the events the block has already served arithmetically (see
    `_Sim.transfer`), which come first in FIFO order and keep their slots until those starts."""

    def __init__(self, sim: "_Sim", block: int, depth: int):
        self.sim, self.block, self.depth = sim, block, int(depth)
        self.entries: deque = deque()
        self.served: deque = deque()
        self.stats = sim.rec.stats[block]
        self._watch = None              # event at the next start in `served`, while a sender waits

    def occupancy(self, now: int) -> int:
        """Slots taken at now, as the senders see them (servers start their jobs before senders
        send, at any one nanosecond)."""
        served = self.served
        while served and served[0] <= now:
            served.popleft()
        return len(served) + len(self.entries)

    def pop(self, now: int):
        """The block's process starts serving the head of `entries`: its slot is freed (T2)."""
        _, payload, start = self.entries.popleft()
        self.stats[S_SERVED] += 1
        self.sim.rec.waits += (self.block, start, now)
        return payload

    def watch(self, now: int) -> None:
        """A sender waits for a slot: the next start in `served` frees one (T2), so tell the
        arbiter then (the process frees the slots of `entries` itself)."""
        if self.served and self._watch is None:
            env = self.sim.env
            self._watch = ev = simpy.Event(env)
            ev.callbacks.append(self._freed)
            _fire(env, ev, self.served[0] - now)

    def _freed(self, _event) -> None:
        self._watch = None
        self.sim.arbiter.slot_freed(self.block)


class _Arbiter:
    """The senders' turn of a round (docs/chip-model.md, T0): every sender that can start a
    transfer now is asked, lowest rank first, to make it. A sender that had to wait is asked
    again only once its target FIFO has a free slot (asking earlier would change nothing)."""

    def __init__(self, env: simpy.Environment, fifos: list):
        self.env, self.fifos = env, fifos
        self.waiting: dict[int, object] = {}    # rank -> sender that wants to send now
        self.blocked: dict[int, int] = {}       # rank -> FIFO that sender waits for
        self.t_found_full = 0                   # the last time a sender found its FIFO full
        self._scheduled = False

    def register(self, sender, settled: bool = True) -> None:
        """`sender` can start its next transfer now. `settled`: the caller does nothing more
        at this nanosecond after this call."""
        if self._scheduled:
            self.waiting[sender.rank] = sender
            return
        env = self.env
        if settled and not self.waiting and env.peek() > env.now:
            # The only sender, and every server action of the round is over (see `_schedule`):
            # its turn at once.
            self._ask(sender.rank, sender, env.now)
            return
        self.waiting[sender.rank] = sender
        self._schedule(settled)

    def slot_freed(self, block: int) -> None:
        """A server freed a slot of its FIFO (T2) and does nothing more at this nanosecond."""
        if not self._scheduled and block in self.blocked.values():
            self._schedule(True)

    def _schedule(self, settled: bool) -> None:
        env = self.env
        if settled and env.peek() > env.now:
            # Nothing else is scheduled at this nanosecond and the caller is done, so every
            # server action of the round is over: the senders' turn can be taken at once.
            self._round(None)
            return
        self._scheduled = True
        ev = simpy.Event(env)
        ev.callbacks.append(self._round)
        _fire(env, ev, 0, _SENDERS)

    def _round(self, _event) -> None:
        self._scheduled = False
        now, waiting, blocked, fifos = self.env.now, self.waiting, self.blocked, self.fifos
        for rank in sorted(waiting):
            if rank in blocked:
                fifo = fifos[blocked[rank]]
                if fifo.occupancy(now) >= fifo.depth:
                    continue                 # still full: asking would change nothing
            self._ask(rank, waiting[rank], now)
        for target in blocked.values():     # a sender still waits: see `_Fifo.watch`
            fifos[target].watch(now)

    def _ask(self, rank: int, sender, now: int) -> None:
        """A sender's turn: it makes its transfer, or waits for a slot of the FIFO it names."""
        target = sender.attempt(now)
        if target is None:
            self.waiting.pop(rank, None)
            self.blocked.pop(rank, None)
        else:
            self.waiting[rank] = sender
            self.blocked[rank] = target
            self.t_found_full = max(self.t_found_full, now)
            self.fifos[target].watch(now)


class _Sim:
    """What the blocks of one run share: environment, FIFOs, servers, arbiter, recorder."""

    def __init__(self, net: CompiledNetwork, options: RunOptions, t_stop: int):
        self.env = simpy.Environment()
        self.net = net
        self.t_stop = t_stop             # the last instant the run simulates (T12)
        self.rec = Recorder(options.bin_ns, t_stop)
        self.fifos = [_Fifo(self, b, net.fifo_depth[b]) for b in range(N_BLOCKS)]
        self.arbiter = _Arbiter(self.env, self.fifos)
        self.servers: list = [None] * N_BLOCKS
        self.balancer = [bool(net.core[k, C_BAL]) for k in range(N_CORES)] + [False] * (N_BLOCKS - N_CORES)
        self.outputs: list[tuple] = []

    def transfer(self, target: int, now: int, latency: int, payload) -> None:
        """T0: a transfer into `target`'s FIFO starts now; the slot is taken now and the event is
        available to the target at now + latency. The sender has just seen the free slot
        (`_Fifo.occupancy(now)`)."""
        fifo, server = self.fifos[target], self.servers[target]
        available = now + latency
        if server.foreseeable and max(available, server.busy_until) > self.t_stop:
            server.foreseeable = False       # it would start after the end of the run (T12): it waits
        if server.foreseeable:
            # Nothing can change when the server starts this event (T3: the later of its
            # availability and the end of the server's last job), so it is served at once, as
            # at that start; its slot stays taken until then (T2).
            s = max(available, server.busy_until)
            fifo.served.append(s)
            fifo.stats[S_SERVED] += 1
            self.rec.waits += (target, now, s)
            server.start_foreseen(s, payload)
        else:
            if not fifo.entries:             # an idle server wakes when it is available (T3)
                server.arrival(now, available)
            fifo.entries.append((available, payload, now))
        st = fifo.stats
        st[S_IN] += 1
        n = len(fifo.served) + len(fifo.entries)    # occupancy(now), counted just before
        if n > st[S_FIFOMAX]:
            st[S_FIFOMAX] = n
        self.rec.t_last = now

    def congestion_drop(self, target: int, now: int) -> None:
        """T6: a transfer into a core with the congestion balancer would have to wait: dropped."""
        self.rec.dropped(target, S_CONGESTION, now)
        self.rec.t_last = now

    def last_instant(self) -> int:
        """The last instant something happened (a job's end is recorded as soon as it is known)."""
        return max([self.rec.t_last] + [server.busy_until for server in self.servers])


# ----------------------------------------------------------------------------------------------
# Servers (SPEC T2, T3, T5, T7, T11)
# ----------------------------------------------------------------------------------------------

class _Server:
    """A block that serves its FIFO one event at a time (T2); subclasses define `job`.

    T3: the next job starts at the later of the end of the previous one and the moment its event
    becomes available. A server waits for that once (an idle server waits for an arrival).

    While the server is idle with an empty FIFO and no leak job can come (T5), nothing can change
    when it will start the next event: the later of that event's availability and the end of the
    last job. It is then `foreseeable`, and `_Sim.transfer` serves each event as it arrives, as at
    its start (docs/chip-model.md: functional work at service start), without waking the process. The
    process takes over again when a spike of such a job may find the output queue full (T4)."""

    leak_pending = False            # only a core has leak jobs (T5)
    may_foresee = True              # no leak job can come in between (a core: unless it leaks)

    def __init__(self, sim: _Sim, block: int):
        self.sim, self.env, self.block = sim, sim.env, block
        self.fifo = sim.fifos[block]
        self.rec = sim.rec
        self.stats = sim.rec.stats[block]
        self.busy_until = 0         # end of the last job started
        self.idle = False           # waiting for its next job (the last one may still be ending)
        self.foreseeable = False    # idle, FIFO empty, no leak job can come: see the class doc
        self.proc = None
        self._wake = None           # event an idle server with an empty FIFO waits on
        self._pending = None        # rest of a job served at once, for the process to time (T4)
        self.open_since = None      # start of a job in service whose end is not known yet (T4 stalls)
        self.stall_since = None     # start of the stall in progress (T4)
        sim.servers[block] = self

    def job(self, s: int, payload):
        """Serve a FIFO event whose service starts at s (the block's rules). Returns None when
        the job is settled (its end is known), else a generator for the process to run."""
        raise NotImplementedError

    def start_foreseen(self, s: int, payload) -> None:
        """A foreseeable server serves an event that starts at s (see the class doc)."""
        waiting = self.job(s, payload)
        if waiting is not None:         # a spike may find the output queue full (T4)
            self.foreseeable = False
            self._pending = waiting
            _fire(self.env, self._wake, 0)
            self._wake = None

    def arrival(self, now: int, available: int) -> None:
        """A transfer into the empty FIFO started: an idle server wakes when it is available."""
        if self._wake is not None:
            _fire(self.env, self._wake, max(available, self.busy_until) - now)
            self._wake = None

    def _idle_event(self, now: int):
        """None when the next job can start now; else the event to wait for, idle. The next job
        is a pending leak job (T5: it goes first), else the head of the FIFO (T3)."""
        self._wake = None
        if self.leak_pending:
            t = self.busy_until
        elif self.fifo.entries:
            t = max(self.fifo.entries[0][0], self.busy_until)
        else:
            self.idle = True
            self.foreseeable = self.may_foresee
            self._wake = simpy.Event(self.env)
            return self._wake
        if t <= now:
            self.idle = False
            return None
        self.idle = True
        return self.env.timeout(t - now)

    def run(self):
        env = self.env
        while True:
            wait = self._idle_event(env.now)
            while wait is not None:
                try:
                    yield wait
                except simpy.Interrupt:     # a slow-clock tick brought a leak job (T5)
                    pass
                if self._pending is not None:   # time the rest of a job served at once
                    waiting, self._pending = self._pending, None
                    self.idle = False
                    yield from waiting
                wait = self._idle_event(env.now)
            s = env.now
            if self.leak_pending:
                waiting = self.leak(s)
            else:
                waiting = self.job(s, self._start_fifo_event(s))
            if waiting is not None:
                yield from waiting

    def _start_fifo_event(self, now: int):
        """Serve the head of the FIFO: its slot is freed now (T2)."""
        payload = self.fifo.pop(now)
        if self.sim.arbiter.blocked:        # a sender may wait for that slot
            self.sim.arbiter.slot_freed(self.block)
        return payload

    def _end_job(self, s: int, end: int) -> None:
        """The job that started at s ends at `end` (known as soon as its last spike is queued)."""
        self.busy_until = end
        self.open_since = None
        busy = self.rec.busy
        busy += (self.block, s, end)
        if len(busy) >= 3 * Recorder.FOLD:
            self.rec.fold()


class _QueuedServer(_Server):
    """A server with an output queue and stage (a core, the DVS layer): T3's spike timing, T4's stall."""

    def __init__(self, sim: _Sim, block: int, out_depth: int, stage: "_Stage"):
        super().__init__(sim, block)
        self.out_depth = int(out_depth)
        self.stage = stage
        stage.server = self
        self._slot = None           # event a stalled server waits on

    def queue_slot_freed(self) -> None:
        """The stage started the last copy of a spike, which so left the queue (T4)."""
        if self._slot is not None:
            ev, self._slot = self._slot, None
            ev.succeed()

    def _emit(self, s: int, base: int, step: int, n: int, spikes, root: int):
        """Time a job that started at s (T3, T5): item j (SynOp or neuron) completes at
        s + base + (j+1)*step + stalls; `spikes` lists (j, f, x, y) of the spikes that enter the
        output queue; the job ends at s + base + n*step + stalls.

        Returns None when that is settled now, else a generator for the server process to run."""
        stage, depth = self.stage, self.out_depth
        queue = stage.queue
        for i, (j, f, x, y) in enumerate(spikes):
            if len(queue) >= depth:
                self.open_since = s
                return self._emit_stalling(s, base, step, n, spikes[i:], root)
            # Only this server adds to its output queue, which has a free slot now: the queue
            # cannot be full when this spike completes, so it enters then by itself (T3, T4).
            stage.add(s + base + (j + 1) * step, f, x, y, root)
        self._end_job(s, s + base + n * step)
        return None

    def _emit_stalling(self, s: int, base: int, step: int, n: int, spikes, root: int):
        """`_emit` when the output queue may be full at a completion: the server wakes then."""
        env, stage, rec = self.env, self.stage, self.rec
        queue, depth = stage.queue, self.out_depth
        delay = 0
        for j, f, x, y in spikes:
            tc = s + base + (j + 1) * step + delay
            if len(queue) < depth:          # as in `_emit`: it cannot be full at tc (> now)
                stage.add(tc, f, x, y, root)
                continue
            if tc > env.now:
                yield env.timeout(tc - env.now)
            if len(queue) >= depth:
                # T4: the completion waits until the stage frees a queue slot; every later item
                # of the job shifts by the same time
                t0 = env.now
                rec.t_last = t0
                self._slot = env.event()
                self.stall_since = t0
                yield self._slot
                self.stall_since = None
                delay += env.now - t0
                rec.stalls += (self.block, t0, env.now)
            stage.add(env.now, f, x, y, root, settled=False)
        self._end_job(s, s + base + n * step + delay)


class _CoreServer(_QueuedServer):
    """Core k's service: events (F1-F3, T3), leak jobs (F4, T5), decimator (F5.1)."""

    def __init__(self, sim: _Sim, k: int, stage: "_Stage", state: np.ndarray, leak_can_fire: bool, wrap: bool):
        net = sim.net
        super().__init__(sim, k, net.out_depth[k], stage)
        r = [int(v) for v in net.core[k]]
        self.cin, self.hin, self.win = r[C_CIN], r[C_HIN], r[C_WIN]
        self.cout, self.hout, self.wout = r[C_COUT], r[C_HOUT], r[C_WOUT]
        self.woff, self.noff, self.boff = r[C_WOFF], r[C_NOFF], r[C_BOFF]
        self.thi, self.tlo, self.rtz = r[C_THI], r[C_TLO], r[C_RTZ]
        self.event_ns, self.synop_ns, self.leak_ns = r[C_EVNS], r[C_SYNNS], r[C_LEAKNS]
        self.dec_n = r[C_DECN]              # 0: decimator off
        self.dec_count = 0
        self.has_copies = r[C_NCOPY] > 0
        self.leak_enable = bool(r[C_LEAK])
        self.may_foresee = not self.leak_enable
        self.leak_can_fire = int(leak_can_fire)
        self.wrap = int(wrap)
        self.state, self.weights, self.biases = state, net.weights, net.biases
        self.spk = np.zeros((4, max(1, r[C_SPKCAP])), np.int64)     # rows j, f, x, y (filled by the kernels)
        self.spk_rows = self.spk.T                                    # the same, one row per spike
        self.geometry = (self.cout, self.hout, self.wout, r[C_K], r[C_SY], r[C_SX], r[C_PY], r[C_PX],
                         self.thi, self.tlo, self.rtz, self.wrap, *self.spk)
        self.leak_pending = False

    def tick(self) -> None:
        """T5: a slow-clock tick gives the core a leak job, unless one is still waiting."""
        if self.leak_pending:
            self.stats[S_LEAKMERGED] += 1
            return
        self.leak_pending = True
        if self.idle:
            self.idle = False
            self.proc.interrupt()

    def _survivors(self, nspk: int):
        """F5.1 decimator: of the job's nspk spikes (in completion order), those that go on and
        enter the output queue (T3: only if they have a copy to make), as (j, f, x, y)."""
        st = self.stats
        st[S_SPIKES] += nspk
        if not nspk or not (self.has_copies or self.dec_n):
            return ()
        spikes = self.spk_rows[:nspk].tolist()         # [j, f, x, y] per spike
        if self.dec_n:
            kept = []
            for spike in spikes:
                self.dec_count += 1
                if self.dec_count % self.dec_n:
                    st[S_DECIMATED] += 1
                else:
                    kept.append(spike)
            spikes = kept
        return spikes if self.has_copies else ()

    def leak(self, s: int):
        """T5: the leak job goes before any event waiting in the FIFO; F4 order."""
        self.leak_pending = False
        self.stats[S_LEAKJOBS] += 1
        n, nspk = leak_job(self.state, self.noff, self.biases, self.boff, self.cout, self.hout, self.wout,
                           self.thi, self.tlo, self.rtz, self.wrap, self.leak_can_fire, *self.spk)
        return self._emit(s, self.event_ns, self.leak_ns, n, self._survivors(nspk), -1)

    def job(self, s: int, payload):
        c, x, y, root = payload
        if 0 <= c < self.cin and 0 <= x < self.win and 0 <= y < self.hin:
            # finds the kernel taps per event, where the fast engine reads compile_network's tap
            # tables (kernels.scatter_tabled): the engines' agreement also checks those tables
            nsyn, nspk = scatter_event(self.state, self.noff, self.weights, self.woff, c, x, y, *self.geometry)
            self.rec.synops += (self.block, s, nsyn)
            return self._emit(s, self.event_ns, self.synop_ns, nsyn, self._survivors(nspk) if nspk else (), root)
        # F1: not processed; served like an event without a valid offset (docs/chip-model.md)
        self.rec.dropped(self.block, S_OOR, s)
        return self._emit(s, self.event_ns, self.synop_ns, 0, (), root)


class _DvsServer(_QueuedServer):
    """The DVS pre-processing layer's service (F6, T11): one event per `dvs_event_ns`; a
    surviving event enters the output queue at the end of its service."""

    def __init__(self, sim: _Sim, stage: "_Stage"):
        super().__init__(sim, DVS, sim.net.out_depth[DVS], stage)
        self.d = [int(v) for v in sim.net.dvs]

    def map(self, p: int, x: int, y: int):
        """F6 on one event: (feature, x, y), or None when it is dropped. Sensor events that the
        configuration does not pass (`pass_sensor_events`) are dropped like filtered ones."""
        d = self.d
        if not d[D_PASS] or (p == 1 and not d[D_ON]) or (p == 0 and not d[D_OFF]):
            return None
        f = 0 if d[D_MERGE] else p
        x //= d[D_PX]
        y //= d[D_PY]
        if not (d[D_OX] <= x <= d[D_CX] and d[D_OY] <= y <= d[D_CY]):
            return None
        x -= d[D_OX]
        y -= d[D_OY]
        if d[D_MX]:
            x = d[D_CX] - d[D_OX] - x
        if d[D_MY]:
            y = d[D_CY] - d[D_OY] - y
        if d[D_DIAG]:
            x, y = y, x
        return f, x, y

    def job(self, s: int, payload):
        p, x, y, root = payload
        mapped = self.map(p, x, y)
        spikes = ()
        if mapped is None:
            self.rec.dropped(DVS, S_DVSFILT, s)
        else:
            self.stats[S_SPIKES] += 1
            if self.d[D_NCOPY] > 0:
                spikes = ((0, *mapped),)
        return self._emit(s, self.d[D_EVNS], 0, 0, spikes, root)


class _PlainServer(_Server):
    """The readout's service (T11) and the host output (T7): one event per `ns`; a host-output
    event's timestamp is the end of its service plus `latency`."""

    def __init__(self, sim: _Sim, block: int, ns: int, latency: int):
        super().__init__(sim, block)
        self.ns, self.latency = int(ns), int(latency)

    def job(self, s: int, payload):
        if self.block == HOST_OUT:
            layer, f, x, y, root = payload
            self.sim.outputs.append((s + self.ns + self.latency, layer, f, x, y, root))
        self._end_job(s, s + self.ns)
        return None


class _ReadoutServer(_PlainServer):
    """The readout's service (T11): each spike counts for its class (F7) from its service start,
    so a tick at t counts the spikes whose service started before t (the tick comes first in its
    nanosecond). Served jobs may be timed ahead (`_Server`): they wait in `counted` until then."""

    def __init__(self, sim: _Sim, p: list):
        super().__init__(sim, READOUT, p[P_READOUT_NS], 0)
        self.sel, self.errata = p[P_RO_SEL], p[P_RO_ERRATA]
        self.ticks = bool(p[P_RO_TICK] and p[P_TICK_NS])
        self.counted: deque = deque()      # (service start, class), in service order

    def job(self, s: int, payload):
        f, x, y, _ = payload
        cls = readout_class(self.sel, self.errata, f, x, y)
        if cls < 0:
            self.rec.dropped(READOUT, S_OOR, s)
        elif self.ticks:
            self.counted.append((s, cls))
        self._end_job(s, s + self.ns)
        return None


# ----------------------------------------------------------------------------------------------
# Senders (SPEC T0, T1, T4, T6, T11)
# ----------------------------------------------------------------------------------------------

class _ReadoutSender:
    """The readout at each slow-clock tick (F7) and the sender of its events to the host output
    (T11): one transfer at a time, each taking it and arriving `readout_event_ns` later (T0)."""

    def __init__(self, sim: _Sim, server: _ReadoutServer, p: list):
        self.sim, self.env, self.server = sim, sim.env, server
        self.rank = sender_rank(READOUT)
        self.rs = new_state()
        self.ns, self.layer = p[P_READOUT_NS], p[P_RO_LAYER]
        self.settings = (p[P_RO_WINDOW], p[P_RO_THRESH], p[P_RO_MON], p[P_RO_PIN])
        self.stats = sim.rec.stats[READOUT]

    def unsent(self) -> int:
        return int(self.rs[RS_END] - self.rs[RS_NEXT])

    def tick(self, now: int) -> None:
        rs, counted = self.rs, self.server.counted
        while counted and counted[0][0] < now:
            readout_count(rs, counted.popleft()[1])
        lost = readout_tick(rs, *self.settings)
        for _ in range(lost):                # the last tick's events still wait (T11)
            self.sim.rec.dropped(READOUT, S_CONGESTION, now)
        if not lost and self.unsent():
            rs[RS_FREE] = max(int(rs[RS_FREE]), now)
            self._wake(now, settled=False)

    def _wake(self, now: int, settled: bool = True) -> None:
        """Ask for a turn when the sender is free again."""
        free = int(self.rs[RS_FREE])
        if free <= now:
            self.sim.arbiter.register(self, settled)
        else:
            ev = simpy.Event(self.env)
            ev.callbacks.append(lambda event: self._wake(self.env.now))
            _fire(self.env, ev, free - now)

    def attempt(self, now: int):
        """The readout's turn (T0): send its next event, or wait for a slot of the host output."""
        rs, sim = self.rs, self.sim
        if not self.unsent():
            return None
        if rs[RS_FREE] > now:
            self._wake(now)
            return None
        fifo = sim.fifos[HOST_OUT]
        if fifo.occupancy(now) >= fifo.depth:
            return HOST_OUT
        sim.transfer(HOST_OUT, now, self.ns, (self.layer, int(rs[RS_CLASS]), int(rs[RS_NEXT]), int(rs[RS_AVG]), -1))
        self.stats[S_COPIES] += 1
        rs[RS_FREE] = now + self.ns
        rs[RS_NEXT] += 1
        if self.unsent():
            self._wake(now)
        return None


_IDLE, _WAITING, _BUSY = 0, 1, 2      # stage: nothing to send / asked the arbiter / turn scheduled


class _Stage:
    """The output stage of a core or the DVS layer (T4): forwards its queue's spikes in order,
    each spike's copies in F5 order (monitor, destination 0, destination 1), one copy at a time,
    each occupying the stage for `route_ns`. A spike leaves the queue when its last copy starts.

    The queue holds the spikes its server has put there, each marked with the time it enters
    (T3), which may be later than now (see `_QueuedServer._emit`); the stage takes the head when
    it has entered and the stage is free, so it waits once for the later of the two."""

    def __init__(self, sim: _Sim, block: int, rank: int, route_ns: int, copies):
        self.sim, self.env, self.block, self.rank = sim, sim.env, block, rank
        self.route_ns = int(route_ns)
        self.copies = [tuple(int(v) for v in c) for c in copies if c[K_TARGET] >= 0]
        self.queue: deque = deque()          # spikes [t_enter, f, x, y, root, index of the next copy]
        self.entered = 0                     # queue[:entered] are counted in the out_max statistic
        self.server: _QueuedServer | None = None
        self.stats = sim.rec.stats[block]
        self.state = _IDLE
        self.free_at = 0                     # end of the last copy's route time
        self._turn = None                    # event the stage process waits on

    def add(self, t: int, f: int, x: int, y: int, root: int, settled: bool = True) -> None:
        """A spike enters the output queue at t >= now (T3). `settled` (when t is now): see
        `_Arbiter.register`."""
        self.queue.append([t, f, x, y, root, 0])
        if self.state == _IDLE:
            now = self.env.now
            t = max(t, self.free_at)
            if t == now:
                self.state = _WAITING
                self.sim.arbiter.register(self, settled)
            else:                            # wake when it has entered and the stage is free
                self.state = _BUSY
                _fire(self.env, self._turn, t - now)

    def count_entered(self, now) -> None:
        """The out_max statistic: the queue length just after each spike entered. Counted when
        a spike is about to leave (and at the end of the run) for the spikes entered by now:
        entries at a time come before the departures at that time (servers before senders)."""
        queue, n = self.queue, self.entered
        while n < len(queue) and queue[n][0] <= now:
            n += 1
        self.entered = n
        if n > self.stats[S_OUTMAX]:
            self.stats[S_OUTMAX] = n

    def run(self):
        while True:
            self._turn = simpy.Event(self.env)
            if self.queue:
                self.state = _WAITING
                self.sim.arbiter.register(self)
            else:
                self.state = _IDLE
            yield self._turn                 # the stage is free again and its next spike has entered

    def _leave(self, now: int) -> None:
        """The head spike leaves the queue (its last copy started, or was dropped)."""
        self.count_entered(now)
        self.queue.popleft()
        self.entered -= 1
        self.server.queue_slot_freed()

    def attempt(self, now: int):
        """The stage's turn (T0): start the next copy, or drop it into a core with the congestion
        balancer (T6) and go on with the next one at once. Returns the FIFO it must wait for, or None."""
        sim, queue, copies = self.sim, self.queue, self.copies
        while queue:
            spike = queue[0]
            t_enter, f, x, y, root, i = spike
            if t_enter > now:                # not entered yet: wake when it has
                self.state = _BUSY
                _fire(self.env, self._turn, t_enter - now)
                return None
            target, layer, pool, shift = copies[i]
            fifo = sim.fifos[target]
            if fifo.occupancy(now) < fifo.depth:
                if target == HOST_OUT:
                    payload = (layer, f, x, y, root)                 # F5.2: monitor, as fired
                else:
                    payload = (f + shift, x // pool, y // pool, root)   # F5.3: shift and pooling
                sim.transfer(target, now, self.route_ns, payload)
                self.stats[S_COPIES] += 1
                spike[5] = i + 1
                if i + 1 == len(copies):
                    self._leave(now)
                self.free_at = free = now + self.route_ns
                if queue:                    # wake when free, and the next spike has entered
                    self.state = _BUSY
                    _fire(self.env, self._turn, max(free, queue[0][0]) - now)
                else:                        # the next spike to enter wakes the stage (add)
                    self.state = _IDLE
                return None
            if not sim.balancer[target]:
                return target
            sim.congestion_drop(target, now)     # a dropped copy costs the stage no time
            spike[5] = i + 1
            if i + 1 == len(copies):
                self._leave(now)
        self.state = _IDLE
        return None


class _InputLink:
    """The input link (T1): input events in recording order; event i starts at the earliest
    s_i >= max(t_i, s_prev + link_ns) at which T0 allows it, with latency `latency`."""

    rank = 0

    def __init__(self, sim: _Sim, inputs: EngineInput, link_ns: int, latency: int):
        self.sim, self.env = sim, sim.env
        self.t = inputs.t_ns.tolist()
        self.target = inputs.target.tolist()
        self.a, self.x, self.y = inputs.a.tolist(), inputs.x.tolist(), inputs.y.tolist()
        self.n = len(self.t)
        self.link_ns, self.latency = int(link_ns), int(latency)
        self.lag = [-1] * self.n    # input lag (T1); -1 for an input dropped by a balancer (T6)
        self.i = 0
        self.s_prev = None          # start of the last input actually sent (a dropped one does not count)
        self._turn = None

    def run(self):
        env = self.env
        if self.n and self.t[0] > env.now:
            yield env.timeout(self.t[0] - env.now)
        while self.i < self.n:
            self._turn = env.event()
            self.sim.arbiter.register(self)
            yield self._turn                 # fired at the earliest start of the next input

    def attempt(self, now: int):
        """The link's turn (T0, T1, T6). Returns the FIFO it must wait for, or None."""
        sim, fifos, n, t = self.sim, self.sim.fifos, self.n, self.t
        i = self.i
        while i < n:
            e = t[i] if self.s_prev is None else max(t[i], self.s_prev + self.link_ns)
            if e > now:
                _fire(self.env, self._turn, e - now)
                return None
            target = self.target[i]
            fifo = fifos[target]
            if fifo.occupancy(now) < fifo.depth:
                sim.transfer(target, now, self.latency, (self.a[i], self.x[i], self.y[i], i))
                self.lag[i] = now + self.latency - t[i]
                self.s_prev = now
            elif sim.balancer[target]:
                sim.congestion_drop(target, now)
            else:
                return target
            i = self.i = i + 1
        _fire(self.env, self._turn, 0)
        return None


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------

def _deadlock(sim: _Sim, stages: list, link: _InputLink) -> DeadlockError:
    """T9: the stages that wait for a FIFO slot, and what they wait for, found here; worded by
    `engine.base.deadlock_error` like the fast engine's."""
    waits = {}
    for sender in sim.arbiter.waiting.values():
        if isinstance(sender, _Stage) and sender.queue:
            waits[sender.block] = int(sender.copies[sender.queue[0][5]][K_TARGET])
    blocks = set(waits) | set(waits.values())
    # a FIFO's `served` events start before nothing is scheduled: its entries are what it holds
    contents = {b: [tuple(int(v) for v in payload[:3]) for _, payload, _ in sim.fifos[b].entries] for b in blocks}
    waiting_link = None
    if link.rank in sim.arbiter.waiting and link.i < link.n:
        waiting_link = (link.i, int(link.target[link.i]))
    # T9: the time from which nothing more is scheduled, the last sender's try included (a stage
    # still routing its last copy has something scheduled until it finds the FIFO full)
    t_dead = max(sim.last_instant(), sim.arbiter.t_found_full)
    return deadlock_error(t_dead, waits, contents, [f.depth for f in sim.fifos],
                          {b: len(stages[b].queue) for b in waits}, sim.net.out_depth, waiting_link)


def _left_at(sim: _Sim, stages: list, link: _InputLink, readout: _ReadoutSender, t: int):
    """What is left in the chip at the end of instant t (T12): the `pending` statistic of each
    block, and whether the chip still has work after t.

    Pending: the block's FIFO slots taken (events in flight to it included), the job in service
    and a leak job waiting (T5), the spikes in its output queue; for the host output, its FIFO and
    every output timed after t (the one in service, and those on their way to the host, T7); for
    the readout also its tick events not sent yet (T11)."""
    pending = [0] * N_BLOCKS
    pending[READOUT] = readout.unsent()
    work = link.i < link.n or bool(sim.arbiter.waiting) or readout.unsent() > 0
    for b, server in enumerate(sim.servers):
        fifo = sim.fifos[b]
        queued = len(fifo.entries) + sum(1 for s in fifo.served if s > t)
        serving = server.open_since is not None or server.busy_until > t
        spikes = stages[b].queue if b < len(stages) else ()
        work = work or bool(queued or serving or server.leak_pending or spikes)
        if b == HOST_OUT:
            pending[b] = queued + sum(1 for out in sim.outputs if out[0] > t)
        else:
            pending[b] += (queued + int(serving) + int(server.leak_pending)
                           + sum(1 for spike in spikes if spike[0] <= t))
    return pending, work


def run_reference(net: CompiledNetwork, inputs: EngineInput, options: RunOptions) -> RawResult:
    """Simulate `inputs` on the compiled chip `net` with SimPy (SPEC §2, §3).

    Returns the same `RawResult` as the fast engine, byte for byte. Raises `DeadlockError` (T9)
    when nothing is scheduled while a sender waits for a FIFO slot. `net` is not modified.
    """
    # T12: the run ends at end_ns, or by itself, or at the latest drain_ns after the last input
    end_ns = options.end_ns
    t_last_input = int(inputs.t_ns[-1]) if len(inputs) else 0
    t_stop = int(end_ns) if end_ns is not None else t_last_input + int(options.drain_ns)
    sim = _Sim(net, options, t_stop)
    env, rec = sim.env, sim.rec
    p = [int(v) for v in net.params]
    state = net.initial_state.copy()

    stages = [_Stage(sim, q, sender_rank(q), int(net.core[q, C_ROUTENS]), net.copies[q]) for q in range(N_CORES)]
    stages.append(_Stage(sim, DVS, sender_rank(DVS), int(net.dvs[D_ROUTENS]), net.copies[DVS]))
    cores = [_CoreServer(sim, k, stages[k], state, bool(p[P_LEAK_FIRE]), bool(p[P_WRAP])) for k in range(N_CORES)]
    servers = cores + [_DvsServer(sim, stages[DVS]), _ReadoutServer(sim, p),
                       _PlainServer(sim, HOST_OUT, p[P_HOST_OUT_NS], p[P_HOST_OUT_LAT])]
    readout = _ReadoutSender(sim, servers[READOUT], p)
    link = _InputLink(sim, inputs, p[P_HOST_IN_NS], p[P_HOST_IN_LAT])
    for server in servers:
        server.proc = env.process(server.run())
    for stage in stages:
        env.process(stage.run())
    env.process(link.run())

    # The slow clock (F4, T5, F7): ticks at 1, 2, 3, ... periods, only when a core leaks or the
    # readout reports, each the first thing of its nanosecond (URGENT). A tick counts while the chip
    # has work left (something is scheduled, or a job is still in service), or up to end_ns (T12),
    # never after the run's end.
    leak_cores = [c for c in cores if c.leak_enable]
    period = p[P_TICK_NS]

    def tick(_event):
        now = env.now
        # Spikes still to enter an output queue and jobs still to start are scheduled too (each
        # is an instant of the chip's work), even if no process wakes for them.
        if (env.peek() == _INF and not any(stage.queue and stage.queue[-1][0] >= now for stage in stages)
                and not any(fifo.served and fifo.served[-1] >= now for fifo in sim.fifos)):
            if sim.arbiter.waiting:
                return          # deadlocked (T9): no more ticks, the run stops below
            if all(server.busy_until < now for server in servers) and end_ns is None:
                return          # the chip is idle: later ticks do not count
        rec.t_last = now
        for core in leak_cores:
            core.tick()
        if readout.server.ticks:
            readout.tick(now)
        schedule_tick(now + period)

    def schedule_tick(t: int) -> None:
        if t > t_stop:
            return
        ev = simpy.Event(env)
        ev.callbacks.append(tick)
        _fire(env, ev, t - env.now, URGENT)

    if period:
        schedule_tick(period)
    while env.peek() <= t_stop:         # every instant up to the end of the run, none after
        env.step()
    if env.peek() == _INF and sim.arbiter.waiting:
        raise _deadlock(sim, stages, link)

    pending, work = _left_at(sim, stages, link, readout, t_stop)
    stopped = end_ns is not None or work
    if stopped:
        # T12: the run stops at t_stop; what is still under way counts until then
        t_end = t_stop
        for server in servers:
            if server.open_since is not None:
                rec.busy += (server.block, server.open_since, t_end)
            if server.stall_since is not None:
                rec.stalls += (server.block, server.stall_since, t_end)
        for fifo in sim.fifos:
            for _, _, start in fifo.entries:
                rec.waits += (fifo.block, start, t_end)
        outputs = [out for out in sim.outputs if out[0] <= t_end]
    else:
        t_end = sim.last_instant()
        pending = [0] * N_BLOCKS
        outputs = sim.outputs
    for stage in stages:
        stage.count_entered(t_end)
    stats, series, bin_ns = rec.finish(t_end, options.max_series_bins)
    stats[:, S_PENDING] = pending
    return RawResult(outputs=np.array(outputs, np.int64).reshape(-1, 6), stats=stats,
                     lag_ns=np.array(link.lag, np.int64), series=series, state=state, t_end_ns=int(t_end),
                     cut=end_ns is None and work, active=tuple(b for b in range(N_BLOCKS) if pending[b]),
                     unsent=link.n - link.i, bin_ns=bin_ns)
