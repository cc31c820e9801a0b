//! The task contract: every analysis task reads one shared context (the turns, their embeddings, the
//! texts an output may quote) and the fields earlier tasks wrote, and writes its own field of the
//! [`Analysis`]. The facade ([`crate::Copilot`]) runs a list of them in order.
//!
//! Adding a task: a module under `tasks/` with a type that implements [`ConversationTask`], an
//! `Option<…>` field for its output in [`Analysis`], and one line in [`crate::tasks::default_tasks`].

use crate::analysis::Analysis;
use crate::conversation::Conversation;
use crate::error::Result;
use std::any::Any;
use std::collections::HashMap;

/// What every task may read about the conversation being analysed. Computed once by the facade.
pub struct TaskContext<'a> {
    /// The conversation as the models read it (masked when redaction covers inference), with its
    /// language set (given or detected).
    pub conversation: &'a Conversation,
    /// One text per turn that an output may quote: masked unless redaction is off.
    pub display: &'a [String],
    /// One L2-normalised vector per turn (query role), from one encoder pass.
    pub embeddings: &'a [Vec<f32>],
    /// One vector per turn of the per-layer features the sentiment head reads (the mean-pooled hidden
    /// states of its layers, from the same encoder pass); empty when no task reads layers.
    pub layer_features: &'a [Vec<f32>],
    /// Turns longer than the encoder reads (only their start was embedded).
    pub truncated: &'a [usize],
    /// Receives generated text as it is written (the summary's LLM rewrite); `false` cancels it.
    pub on_token: &'a mut dyn FnMut(&str) -> bool,
    /// Per-turn results kept from earlier runs over the same, growing conversation (a live session);
    /// empty for a one-off `analyze`.
    pub memo: &'a mut TaskMemo,
}

/// Per-turn work a task keeps between runs while a conversation grows turn by turn
/// ([`crate::live::LiveSession`]), so that a new turn costs only its own work. A value depends only on
/// its turn (its text, embedding and the per-turn results of earlier tasks), never on later turns, so
/// reusing it gives exactly what a fresh run gives. `analyze` starts every conversation with an empty one.
#[derive(Default)]
pub struct TaskMemo {
    slots: HashMap<&'static str, Box<dyn Any + Send + Sync>>,
}

impl TaskMemo {
    /// The values of turns `0..n` kept under `key`: those not seen before are computed by `compute`
    /// (given the range of new turn positions, returning one value per turn) and kept.
    pub fn per_turn<T: Send + Sync + 'static>(
        &mut self,
        key: &'static str,
        n: usize,
        compute: impl FnOnce(std::ops::Range<usize>) -> Result<Vec<T>>,
    ) -> Result<&mut [T]> {
        let slot = self.slots.entry(key).or_insert_with(|| Box::new(Vec::<T>::new()));
        if !slot.is::<Vec<T>>() {
            *slot = Box::new(Vec::<T>::new());
        }
        let kept = slot
            .downcast_mut::<Vec<T>>()
            .ok_or_else(|| crate::error::Error::Inference(format!("memo slot `{key}` has another type")))?;
        // Fewer turns than kept: a different conversation, start over.
        if kept.len() > n {
            kept.clear();
        }
        if kept.len() < n {
            let new = compute(kept.len()..n)?;
            if new.len() != n - kept.len() {
                return Err(crate::error::Error::Inference(format!(
                    "`{key}` computed {} values for {} new turns",
                    new.len(),
                    n - kept.len()
                )));
            }
            kept.extend(new);
        }
        Ok(&mut kept[..n])
    }
}

/// One step of the analysis. Tasks run in the order they are registered, so a task may read the
/// fields of the tasks before it (churn reads intents, sentiment and the summary's resolution).
pub trait ConversationTask: Any + Send + Sync {
    /// A short stable name (`intent`, `sentiment`, `summary`, `churn`).
    fn name(&self) -> &'static str;

    /// Reads `context` and what earlier tasks wrote into `analysis`; writes this task's field and any
    /// warnings. An error ends the whole analysis, so a task whose output is optional records a
    /// warning instead.
    fn run(&self, context: &mut TaskContext<'_>, analysis: &mut Analysis) -> Result<()>;
}
