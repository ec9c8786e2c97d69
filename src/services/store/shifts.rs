//! Shifts and terminals: an employee logs in at a free terminal of an open store and serves
//! baskets one after another until the shift ends (closing, or mid-day on a long day).

use rand::Rng;

use super::{StoreService, Till};
use crate::domain::events::{Event, Millis, PosEvent};
use crate::domain::record::Record;
use crate::domain::store::events::PosEventType;
use crate::domain::Text;
use crate::services::{Ctx, Emission};

/// A trading day longer than this is worked in two shifts.
const SINGLE_SHIFT_MS: Millis = 9 * 3_600_000;

/// A POS event record of a terminal at a fixed time.
pub(super) fn pos(ctx: &mut Ctx<'_>, terminal: usize, kind: PosEventType, at: Millis) -> Record {
    let t = &ctx.world.catalog.terminals[terminal];
    let store_id = &ctx.world.catalog.stores[t.store].store_id;
    let event = PosEvent::at(ctx.ids.next("pev"), kind, store_id, &t.terminal_id);
    let mut record = Record::new(t.terminal_id.as_str().into(), None, Event::Pos(event));
    record.at = Some(at);
    record
}

pub(super) fn with_pos(mut record: Record, edit: impl FnOnce(&mut PosEvent)) -> Record {
    if let Event::Pos(e) = &mut record.event {
        edit(e);
    }
    record
}

impl StoreService {
    /// Logs out every employee whose shift is over, at the shift's end; at closing, once the
    /// store's queue is served (visitors who reached the tills before closing still pay).
    pub(super) fn end_shifts(&mut self, ctx: &mut Ctx<'_>, now: Millis, out: &mut Emission) {
        if now < self.next_shift_end {
            return;
        }
        for terminal in 0..self.tills.len() {
            let till = self.tills[terminal];
            let store = ctx.world.catalog.terminals[terminal].store;
            if till.employee.is_some() && till.shift_end <= now && !self.queueing(store, now) {
                self.log_out(ctx, terminal, till.shift_end, out);
            }
        }
        self.next_shift_end = self
            .tills
            .iter()
            .filter(|t| t.employee.is_some())
            .map(|t| t.shift_end)
            .min()
            .unwrap_or(Millis::MAX);
    }

    /// Whether visitors of a closed `store` are past their exit, waiting for a till.
    fn queueing(&self, store: usize, now: Millis) -> bool {
        !self.open[store] && self.next_exit[store] <= now
    }

    /// The terminal's employee logs out at `at` (after the terminal's last event).
    pub(super) fn log_out(
        &mut self,
        ctx: &mut Ctx<'_>,
        terminal: usize,
        at: Millis,
        out: &mut Emission,
    ) {
        let till = self.tills[terminal];
        let Some(employee) = till.employee else {
            return;
        };
        let at = at.max(till.last_event + 1);
        let employee_id = Text::from(ctx.world.catalog.employees[employee].employee_id.as_str());
        let record = pos(ctx, terminal, PosEventType::EmployeeLogout, at);
        out.group_now(vec![with_pos(record, |e| {
            e.employee_id = Some(employee_id)
        })]);
        self.on_shift[employee] = false;
        self.tills[terminal] = Till {
            employee: None,
            last_event: at,
            free_at: at,
            shift_end: at,
        };
    }

    /// An employee not on shift logs in; the shift ends at closing, or at mid-day on a long day.
    pub(super) fn log_in(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        terminal: usize,
        now: Millis,
        out: &mut Emission,
    ) {
        let idle: Vec<usize> = self.employees_of[store]
            .iter()
            .copied()
            .filter(|&e| !self.on_shift[e])
            .collect();
        let Some((open, close)) = ctx.world.catalog.stores[store].trading_day(now) else {
            return;
        };
        if idle.is_empty() {
            return;
        }
        let employee = idle[ctx.rng.random_range(0..idle.len())];
        let mid = open + (close - open) / 2;
        let shift_end = if close - open > SINGLE_SHIFT_MS && now < mid {
            mid
        } else {
            close
        };
        let employee_id = Text::from(ctx.world.catalog.employees[employee].employee_id.as_str());
        let record = pos(ctx, terminal, PosEventType::EmployeeLogin, now);
        out.group_now(vec![with_pos(record, |e| {
            e.employee_id = Some(employee_id)
        })]);
        self.on_shift[employee] = true;
        self.next_shift_end = self.next_shift_end.min(shift_end);
        self.tills[terminal] = Till {
            employee: Some(employee),
            shift_end,
            last_event: now,
            free_at: now + ctx.rng.random_range(30_000..=120_000),
        };
    }
}
