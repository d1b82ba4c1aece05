//! Cluster alarms (etcd's alarm store): which member raised which alarm — NOSPACE when a
//! member's backend reached its quota, CORRUPT when members' data disagree. Alarms are
//! replicated state: raised and cleared only by applying an `AlarmRequest` from the raft log,
//! kept in the backend's "alarm" table in the same transaction, and reloaded from it at start
//! and with a snapshot. While one is active the apply loop refuses what it forbids
//! ([`Alarms::refusal`]), on every member alike.

use std::collections::BTreeSet;

use parking_lot::RwLock;

use oxcd_api::EtcdError;
use oxcd_api::etcdserverpb::{AlarmMember, AlarmType};
use oxcd_mvcc::{Backend, BackendError, Proto, Table, TableWriter};

use crate::proposal::Request;
use crate::quota;

/// `AlarmMember` (member id, alarm type) → nothing: one row per active alarm, as etcd's
/// "alarm" bucket keys them.
pub(crate) const ALARM_TABLE: Table<Proto<AlarmMember>, Vec<u8>> = Table::new("alarm");

/// The active alarms, as (alarm type, member id).
#[derive(Default)]
pub(crate) struct Alarms {
    active: RwLock<BTreeSet<(i32, u64)>>,
}

impl Alarms {
    /// The alarms stored in `backend`.
    pub(crate) fn load(backend: &Backend) -> Result<Alarms, BackendError> {
        let alarms = Alarms::default();
        alarms.reload(backend)?;
        Ok(alarms)
    }

    /// Replaces the active alarms with those stored in `backend` (a snapshot was installed).
    pub(crate) fn reload(&self, backend: &Backend) -> Result<(), BackendError> {
        let rows = backend.read()?.rows(&ALARM_TABLE)?;
        *self.active.write() = rows
            .into_iter()
            .map(|(m, _)| (m.alarm, m.member_id))
            .collect();
        Ok(())
    }

    /// Raises `alarm` for `member` in the batch's transaction (unless it is raised already)
    /// and returns it, as etcd's store does — whatever the type, even NONE.
    pub(crate) fn activate(
        &self,
        tables: TableWriter<'_>,
        member: u64,
        alarm: i32,
    ) -> Result<AlarmMember, BackendError> {
        let row = alarm_member(alarm, member);
        if !self.active.read().contains(&(alarm, member)) {
            tables.put(&ALARM_TABLE, &row, &Vec::new())?;
            self.active.write().insert((alarm, member));
        }
        Ok(row)
    }

    /// Clears `alarm` of `member` in the batch's transaction; `None` if it was not raised.
    pub(crate) fn deactivate(
        &self,
        tables: TableWriter<'_>,
        member: u64,
        alarm: i32,
    ) -> Result<Option<AlarmMember>, BackendError> {
        if !self.active.read().contains(&(alarm, member)) {
            return Ok(None);
        }
        let row = alarm_member(alarm, member);
        tables.delete(&ALARM_TABLE, &row)?;
        self.active.write().remove(&(alarm, member));
        Ok(Some(row))
    }

    /// The active alarms of type `alarm`, or all of them for `AlarmType::None`, ordered by
    /// type then member (etcd lists them in map order).
    pub(crate) fn get(&self, alarm: i32) -> Vec<AlarmMember> {
        self.active
            .read()
            .iter()
            .filter(|(t, _)| alarm == AlarmType::None as i32 || *t == alarm)
            .map(|&(t, member)| alarm_member(t, member))
            .collect()
    }

    /// Whether an alarm of type `alarm` is raised by any member.
    pub(crate) fn is_active(&self, alarm: AlarmType) -> bool {
        self.active.read().iter().any(|(t, _)| *t == alarm as i32)
    }

    /// The error applying `request` gives while the active alarms forbid it, as etcd's
    /// appliers do: with CORRUPT raised, every change; with NOSPACE raised, what would store
    /// more (puts, txns that put, lease grants) — deletes, compaction and revokes still free
    /// space.
    pub(crate) fn refusal(&self, request: &Request) -> Option<EtcdError> {
        if self.is_active(AlarmType::Corrupt) {
            return match request {
                Request::Put(_)
                | Request::DeleteRange(_)
                | Request::Txn(_)
                | Request::Compaction(_)
                | Request::LeaseGrant(_)
                | Request::LeaseRevoke(_) => Some(EtcdError::Corrupt),
                _ => None,
            };
        }
        if self.is_active(AlarmType::Nospace) {
            // etcd's capped applier: a txn is refused if the quota would charge it anything.
            let stores_more = match request {
                Request::Put(_) | Request::LeaseGrant(_) => true,
                Request::Txn(txn) => quota::txn_cost(txn) > 0,
                _ => false,
            };
            return stores_more.then_some(EtcdError::NoSpace);
        }
        None
    }
}

/// An alarm type's name as etcd prints it (`NOSPACE`), `UNKNOWN` for a number it does not know.
pub(crate) fn alarm_name(alarm: i32) -> &'static str {
    AlarmType::try_from(alarm).map_or("UNKNOWN", |t| t.as_str_name())
}

fn alarm_member(alarm: i32, member: u64) -> AlarmMember {
    AlarmMember {
        member_id: member,
        alarm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_api::etcdserverpb::{
        DeleteRangeRequest, PutRequest, RequestOp, TxnRequest, request_op,
    };

    fn txn(op: request_op::Request) -> Request {
        Request::Txn(TxnRequest {
            failure: vec![RequestOp { request: Some(op) }],
            ..Default::default()
        })
    }

    #[test]
    fn alarms_forbid_what_etcd_forbids() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("db")).unwrap();
        let alarms = Alarms::load(&backend).unwrap();
        let put = Request::Put(PutRequest::default());
        let delete = Request::DeleteRange(DeleteRangeRequest::default());
        assert_eq!(alarms.refusal(&put), None);

        let raised = backend
            .write(|t| alarms.activate(t, 7, AlarmType::Nospace as i32))
            .unwrap();
        assert_eq!(raised, alarm_member(AlarmType::Nospace as i32, 7));
        let again = backend
            .write(|t| alarms.activate(t, 7, AlarmType::Nospace as i32))
            .unwrap();
        assert_eq!(again, raised, "raised once, answered each time");
        assert_eq!(alarms.get(AlarmType::Nospace as i32), vec![raised]);
        assert_eq!(alarms.refusal(&put), Some(EtcdError::NoSpace));
        assert_eq!(
            alarms.refusal(&txn(request_op::Request::RequestPut(PutRequest::default()))),
            Some(EtcdError::NoSpace),
            "a put in the failure branch stores more too"
        );
        assert_eq!(
            alarms.refusal(&txn(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest::default()
            ))),
            None
        );
        assert_eq!(alarms.refusal(&delete), None);

        backend
            .write(|t| alarms.activate(t, 9, AlarmType::Corrupt as i32))
            .unwrap();
        assert_eq!(alarms.refusal(&delete), Some(EtcdError::Corrupt));
        assert_eq!(alarms.get(AlarmType::None as i32).len(), 2);
        assert_eq!(alarms.get(AlarmType::Corrupt as i32).len(), 1);

        let reloaded = Alarms::load(&backend).unwrap();
        assert_eq!(
            reloaded.get(AlarmType::None as i32),
            alarms.get(AlarmType::None as i32)
        );
        backend
            .write(|t| alarms.deactivate(t, 9, AlarmType::Corrupt as i32))
            .unwrap();
        assert_eq!(alarms.refusal(&delete), None);
        assert_eq!(
            backend
                .write(|t| alarms.deactivate(t, 9, AlarmType::Corrupt as i32))
                .unwrap(),
            None,
            "cleared once"
        );
    }
}
