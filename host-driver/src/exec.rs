//! A deterministic executor in simulated time: every node's host runs beside the network.
//!
//! A [`World`] owns a [`Fabric`] (the cards, the switch, their clock) and the host software of
//! every node as async tasks: each node's driver (its interrupt handler, its counter poller)
//! and its programs (senders, readers). Host code waits only in simulated time — for a
//! register read's answer, a posted write's CPU cost, an interrupt, a sleep — so while one host
//! talks to its card every other host and every card goes on: no host is frozen by another.
//!
//! Scheduling: run every task that was woken, in the order it was woken, until none is
//! ready; then advance the fabric to the next timer, stopping early after any cycle in which a
//! register read was answered or an interrupt line changed; wake what that made ready; repeat.
//! Timers due at the same cycle fire in the order they were set. Nothing depends on wall time
//! or hash order, so a run is the same for the same inputs.
//!
//! Host costs ([`HostCosts`]): a read's request reaches the card half a round trip after it is
//! issued and its answer reaches the host half a round trip after the card answers; a write
//! occupies its task for the write's CPU cost and reaches the card then; each node's accesses
//! reach its card in the order they were issued (whichever of its tasks issued them). An
//! interrupt reaches a waiting handler when its line is high, and the handler runs the
//! interrupt latency later ([`Host::irq_line`] and the driver's handler).

use crate::fabric::{Fabric, Ticket};
use crate::host::{Host, HostCosts};
use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Task id of the future a `block_on` runs (not in the task list).
const MAIN: usize = usize::MAX;

/// Ids of woken tasks, in wake order.
#[derive(Default)]
struct WakeList(Mutex<Vec<usize>>);

struct TaskWaker {
    id: usize,
    list: Arc<WakeList>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.list.0.lock().expect("wake list").push(self.id);
    }
}

/// A read in flight.
enum ReadSlot {
    Waiting(Waker),
    /// Answered: the value reaches the host at this cycle.
    Answered {
        at: u64,
        value: u32,
    },
}

#[derive(Default)]
struct Sched {
    /// (cycle, sequence number): a min-heap of timers.
    timers: BinaryHeap<Reverse<(u64, u64)>>,
    timer_wakers: HashMap<u64, Waker>,
    next_seq: u64,
    reads: HashMap<Ticket, ReadSlot>,
    /// Per node: tasks waiting for its interrupt line.
    irq_waiters: Vec<Vec<Waker>>,
    /// Per node: arrival cycle of the latest access queued (accesses arrive in order).
    tails: Vec<u64>,
}

impl Sched {
    fn timer(&mut self, at: u64, waker: Waker) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.timers.push(Reverse((at, seq)));
        self.timer_wakers.insert(seq, waker);
        seq
    }
}

/// What a world shares with its tasks.
pub(crate) struct Inner<F: Fabric> {
    pub(crate) fabric: RefCell<F>,
    pub(crate) costs: HostCosts,
    sched: RefCell<Sched>,
    tasks: RefCell<Vec<Option<Task>>>,
    /// Tasks spawned while tasks were being polled.
    spawned: RefCell<Vec<Task>>,
    woken: Arc<WakeList>,
    /// Wakers by task id (made once), and the one of the future a `block_on` runs.
    wakers: RefCell<Vec<Waker>>,
    main_waker: Waker,
    answers: RefCell<Vec<(Ticket, u64, u32)>>,
}

/// A network of cards and the hosts beside them, in one simulated time. It owns its tasks:
/// dropping it ends them.
pub struct World<F: Fabric> {
    inner: Rc<Inner<F>>,
}

impl<F: Fabric> World<F> {
    /// The hosts of `fabric`'s nodes, with `costs` for their accesses.
    pub fn new(fabric: F, costs: HostCosts) -> Self {
        let nodes = fabric.nodes();
        let sched = Sched {
            irq_waiters: vec![Vec::new(); nodes],
            tails: vec![0; nodes],
            ..Sched::default()
        };
        let woken = Arc::new(WakeList::default());
        let main_waker = Waker::from(Arc::new(TaskWaker {
            id: MAIN,
            list: Arc::clone(&woken),
        }));
        World {
            inner: Rc::new(Inner {
                fabric: RefCell::new(fabric),
                costs,
                sched: RefCell::new(sched),
                tasks: RefCell::new(Vec::new()),
                spawned: RefCell::new(Vec::new()),
                woken,
                wakers: RefCell::new(Vec::new()),
                main_waker,
                answers: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Node `node`'s host: what its software uses to reach its card and to wait.
    pub fn host(&self, node: usize) -> Host<F> {
        assert!(node < self.inner.fabric.borrow().nodes(), "no node {node}");
        Host::new(Rc::clone(&self.inner), node)
    }

    pub fn costs(&self) -> &HostCosts {
        &self.inner.costs
    }

    /// The current cycle.
    pub fn now(&self) -> u64 {
        self.inner.fabric.borrow().cycle()
    }

    /// The fabric (for memory, statistics and configuration). Panics if a task holds it, which
    /// no task does between its polls.
    pub fn fabric(&self) -> std::cell::Ref<'_, F> {
        self.inner.fabric.borrow()
    }

    pub fn fabric_mut(&self) -> std::cell::RefMut<'_, F> {
        self.inner.fabric.borrow_mut()
    }

    /// Adds a task that runs beside everything else until it ends (or the world is dropped).
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.inner.spawned.borrow_mut().push(Box::pin(task));
    }

    /// Runs the world until `fut` completes, at most `limit` cycles; `None` if it did not.
    pub fn block_on<T>(&self, fut: impl Future<Output = T>, limit: u64) -> Option<T> {
        let deadline = self.now().saturating_add(limit);
        let mut fut = pin!(fut);
        let waker = self.inner.main_waker.clone();
        let mut poll_main = true;
        loop {
            if poll_main {
                poll_main = false;
                if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                    return Some(v);
                }
            }
            if self.run_woken() {
                poll_main = true;
                continue;
            }
            if self.now() >= deadline {
                return None;
            }
            self.advance_time(deadline);
        }
    }

    /// Runs the world for at most `limit` cycles, until `stop` holds (checked at least every
    /// `check_every` cycles); returns whether it held.
    pub fn run_until(
        &self,
        limit: u64,
        check_every: u64,
        mut stop: impl FnMut(&F) -> bool,
    ) -> bool {
        let deadline = self.now().saturating_add(limit);
        loop {
            while self.run_woken() {}
            if stop(&self.inner.fabric.borrow()) {
                return true;
            }
            let now = self.now();
            if now >= deadline {
                return false;
            }
            self.advance_time(deadline.min(now + check_every.max(1)));
        }
    }

    /// Runs every woken task (and tasks they wake) until none is ready; returns whether the
    /// main future was among the woken.
    fn run_woken(&self) -> bool {
        let mut main = false;
        loop {
            self.adopt_spawned();
            let woken = std::mem::take(&mut *self.inner.woken.0.lock().expect("wake list"));
            if woken.is_empty() {
                return main;
            }
            let mut seen = std::collections::HashSet::new();
            for id in woken {
                if !seen.insert(id) {
                    continue;
                }
                match id {
                    MAIN => main = true,
                    id => self.poll_task(id),
                }
            }
        }
    }

    fn adopt_spawned(&self) {
        let new = std::mem::take(&mut *self.inner.spawned.borrow_mut());
        for task in new {
            let id = {
                let mut tasks = self.inner.tasks.borrow_mut();
                tasks.push(Some(task));
                tasks.len() - 1
            };
            self.inner
                .wakers
                .borrow_mut()
                .push(Waker::from(Arc::new(TaskWaker {
                    id,
                    list: Arc::clone(&self.inner.woken),
                })));
            self.inner.woken.0.lock().expect("wake list").push(id);
        }
    }

    fn poll_task(&self, id: usize) {
        // Taken out while polled: the task may spawn or wake others.
        let Some(mut task) = self.inner.tasks.borrow_mut()[id].take() else {
            return;
        };
        let waker = self.inner.wakers.borrow()[id].clone();
        if task
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
        {
            self.inner.tasks.borrow_mut()[id] = Some(task);
        }
    }

    /// Moves time on: fires timers due now, else advances the fabric to the next timer (at
    /// most to `deadline`) and wakes what became ready.
    fn advance_time(&self, deadline: u64) {
        let now = self.now();
        let next_timer = self.inner.sched.borrow().timers.peek().map(|t| t.0 .0);
        if next_timer.is_some_and(|t| t <= now) {
            self.fire_timers(now);
            return;
        }
        let until = next_timer.map_or(deadline, |t| t.min(deadline));
        self.inner.fabric.borrow_mut().advance(until);
        self.collect_events();
        self.fire_timers(self.now());
    }

    fn fire_timers(&self, now: u64) {
        let mut s = self.inner.sched.borrow_mut();
        while s.timers.peek().is_some_and(|t| t.0 .0 <= now) {
            let Reverse((_, seq)) = s.timers.pop().unwrap();
            if let Some(w) = s.timer_wakers.remove(&seq) {
                w.wake();
            }
        }
    }

    /// Read answers become timers (the answer's way back to the host); interrupt lines that
    /// are high wake their waiters.
    fn collect_events(&self) {
        self.inner.collect_answers();
        let mut s = self.inner.sched.borrow_mut();
        let fabric = self.inner.fabric.borrow();
        for (node, waiters) in s.irq_waiters.iter_mut().enumerate() {
            if !waiters.is_empty() && fabric.irq(node) {
                waiters.drain(..).for_each(Waker::wake);
            }
        }
    }
}

impl<F: Fabric> Drop for World<F> {
    fn drop(&mut self) {
        // Tasks hold host handles, which hold the world: end them, or the cycle would keep
        // everything alive.
        self.inner.tasks.borrow_mut().clear();
        self.inner.spawned.borrow_mut().clear();
    }
}

impl<F: Fabric> World<F> {
    /// Ends every task and returns the fabric. Panics if host handles outlive the world.
    pub fn into_fabric(self) -> F {
        let inner = Rc::clone(&self.inner);
        drop(self);
        match Rc::try_unwrap(inner) {
            Ok(inner) => inner.fabric.into_inner(),
            Err(_) => panic!("World::into_fabric: host handles are still alive"),
        }
    }
}

// ---- Futures of a host's waits ----------------------------------------------------------------

impl<F: Fabric> Inner<F> {
    pub(crate) fn now(&self) -> u64 {
        self.fabric.borrow().cycle()
    }

    /// Answers the fabric has: each read's value reaches its host half a round trip later
    /// (a timer wakes the reader then).
    fn collect_answers(&self) {
        let mut answers = self.answers.borrow_mut();
        self.fabric.borrow_mut().take_answers(&mut answers);
        let back = self.costs.reg_read - self.costs.reg_read / 2;
        let mut s = self.sched.borrow_mut();
        for (ticket, cycle, value) in answers.drain(..) {
            let at = cycle + back;
            if let Some(ReadSlot::Waiting(w)) =
                s.reads.insert(ticket, ReadSlot::Answered { at, value })
            {
                s.timer(at, w);
            }
        }
    }

    /// Queues an access of `node`: it arrives no earlier than `earliest` and after the node's
    /// earlier accesses. Returns the arrival cycle.
    fn arrival(&self, node: usize, earliest: u64) -> u64 {
        let mut s = self.sched.borrow_mut();
        let at = earliest.max(s.tails[node]);
        s.tails[node] = at;
        at
    }

    pub(crate) fn issue_write(&self, node: usize, addr: u32, value: u32) {
        let at = self.arrival(node, self.now() + self.costs.reg_write);
        self.fabric.borrow_mut().bus_write(node, at, addr, value);
    }

    pub(crate) fn issue_read(&self, node: usize, addr: u32, waker: Waker) -> Ticket {
        let at = self.arrival(node, self.now() + self.costs.reg_read / 2);
        let ticket = self.fabric.borrow_mut().bus_read(node, at, addr);
        self.sched
            .borrow_mut()
            .reads
            .insert(ticket, ReadSlot::Waiting(waker));
        ticket
    }
}

/// A register read: resolves to the value when the answer has reached the host.
pub struct ReadFuture<F: Fabric> {
    pub(crate) inner: Rc<Inner<F>>,
    pub(crate) node: usize,
    pub(crate) addr: u32,
    pub(crate) ticket: Option<Ticket>,
}

impl<F: Fabric> Future for ReadFuture<F> {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let Some(ticket) = self.ticket else {
            let t = self
                .inner
                .issue_read(self.node, self.addr, cx.waker().clone());
            self.ticket = Some(t);
            // A board answers at once.
            return self.poll_answer(t, cx);
        };
        self.poll_answer(ticket, cx)
    }
}

impl<F: Fabric> ReadFuture<F> {
    fn poll_answer(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<u32> {
        // A board answers while the read is issued: collect before the executor does.
        self.inner.collect_answers();
        let now = self.inner.now();
        let mut s = self.inner.sched.borrow_mut();
        match s.reads.get_mut(&ticket) {
            Some(ReadSlot::Answered { at, value }) if *at <= now => {
                let v = *value;
                s.reads.remove(&ticket);
                Poll::Ready(v)
            }
            Some(ReadSlot::Answered { at, .. }) => {
                let at = *at;
                s.timer(at, cx.waker().clone());
                Poll::Pending
            }
            Some(ReadSlot::Waiting(w)) => {
                *w = cx.waker().clone();
                Poll::Pending
            }
            None => unreachable!("read {ticket} polled after it completed"),
        }
    }
}

/// Resolves at cycle `until`.
pub struct Sleep<F: Fabric> {
    pub(crate) inner: Rc<Inner<F>>,
    pub(crate) until: u64,
    pub(crate) timer: Option<u64>,
}

impl<F: Fabric> Future for Sleep<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.now() >= self.until {
            return Poll::Ready(());
        }
        let mut s = self.inner.sched.borrow_mut();
        match self.timer {
            Some(seq) if s.timer_wakers.contains_key(&seq) => {
                s.timer_wakers.insert(seq, cx.waker().clone());
            }
            _ => {
                let seq = s.timer(self.until, cx.waker().clone());
                drop(s);
                self.timer = Some(seq);
            }
        }
        Poll::Pending
    }
}

/// Resolves when the node's interrupt line is high.
pub struct IrqLine<F: Fabric> {
    pub(crate) inner: Rc<Inner<F>>,
    pub(crate) node: usize,
}

impl<F: Fabric> Future for IrqLine<F> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.fabric.borrow().irq(self.node) {
            return Poll::Ready(());
        }
        self.inner.sched.borrow_mut().irq_waiters[self.node].push(cx.waker().clone());
        Poll::Pending
    }
}

/// Polls every future of `futs` until all are done; returns their outputs in order.
pub async fn join_all<T>(futs: Vec<impl Future<Output = T>>) -> Vec<T> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future ended"))
        .collect()
}

// ---- A lock for register sequences ------------------------------------------------------------

/// An async lock, granted in the order asked: a host's tasks hold it across a sequence of
/// register accesses that must not interleave with another task's (an install writes three
/// staging registers then MAP_CMD; a doorbell DB_ADDR then DB_PUSH), as a driver's spinlock
/// would. A future that asked must be polled until it gets the lock (the tasks here never
/// give up a wait).
#[derive(Default)]
pub struct SeqLock {
    /// Tickets handed out, and the one being served.
    next: Cell<u64>,
    serving: Cell<u64>,
    waiters: RefCell<HashMap<u64, Waker>>,
}

impl SeqLock {
    pub fn lock(&self) -> LockFuture<'_> {
        LockFuture {
            lock: self,
            ticket: None,
        }
    }

    /// Someone holds it or waits for it.
    pub fn is_held(&self) -> bool {
        self.serving.get() < self.next.get()
    }
}

pub struct LockFuture<'a> {
    lock: &'a SeqLock,
    ticket: Option<u64>,
}

impl<'a> Future for LockFuture<'a> {
    type Output = SeqGuard<'a>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SeqGuard<'a>> {
        let l = self.lock;
        let t = *self.ticket.get_or_insert_with(|| {
            let t = l.next.get();
            l.next.set(t + 1);
            t
        });
        if l.serving.get() == t {
            let mut waiters = l.waiters.borrow_mut();
            if !waiters.is_empty() {
                waiters.remove(&t);
            }
            return Poll::Ready(SeqGuard { lock: l });
        }
        l.waiters.borrow_mut().insert(t, cx.waker().clone());
        Poll::Pending
    }
}

pub struct SeqGuard<'a> {
    lock: &'a SeqLock,
}

impl Drop for SeqGuard<'_> {
    fn drop(&mut self) {
        let next = self.lock.serving.get() + 1;
        self.lock.serving.set(next);
        let mut waiters = self.lock.waiters.borrow_mut();
        if !waiters.is_empty() {
            if let Some(w) = waiters.remove(&next) {
                w.wake();
            }
        }
    }
}
