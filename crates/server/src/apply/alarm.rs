//! Applying alarm requests: listing, raising and clearing alarms, in the batch's backend
//! transaction so every member holds the same alarms at the same point of the log.

use oxcd_api::etcdserverpb::alarm_request::AlarmAction;
use oxcd_api::etcdserverpb::{AlarmRequest, AlarmResponse};

use super::step::{Apply, ApplyContext, ApplyError};
use crate::alarms::alarm_name;
use crate::proposal::Outcome;

impl Apply for AlarmRequest {
    fn apply(&self, cx: &mut ApplyContext<'_, '_>) -> Result<Outcome<AlarmResponse>, ApplyError> {
        let alarms = cx.state.alarms();
        let changed = match self.action() {
            AlarmAction::Get => {
                return Ok(Ok(AlarmResponse {
                    header: Some(cx.header()),
                    alarms: alarms.get(self.alarm),
                }));
            }
            AlarmAction::Activate => {
                let raised = alarms
                    .activate(cx.batch.tables(), self.member_id, self.alarm)
                    .map_err(ApplyError::storage)?;
                tracing::warn!(
                    alarm = alarm_name(raised.alarm),
                    from = %format!("{:x}", raised.member_id),
                    "alarm raised"
                );
                Some(raised)
            }
            AlarmAction::Deactivate => {
                let cleared = alarms
                    .deactivate(cx.batch.tables(), self.member_id, self.alarm)
                    .map_err(ApplyError::storage)?;
                if let Some(cleared) = &cleared {
                    tracing::warn!(
                        alarm = alarm_name(cleared.alarm),
                        from = %format!("{:x}", cleared.member_id),
                        "alarm disarmed"
                    );
                }
                cleared
            }
        };
        Ok(Ok(AlarmResponse {
            header: Some(cx.header()),
            alarms: changed.into_iter().collect(),
        }))
    }
}
