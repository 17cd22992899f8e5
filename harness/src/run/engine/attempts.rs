//! The bounded attempts of one request to the engine (a create, a start,
//! an exec): at most two. A failed attempt is looked at (`classify`); what
//! one answer cannot settle, the second attempt of the same request does.
//! Owns what the engine paths do next ([`Next`]), the refusal they observe
//! ([`Refusal`]) and the trouble they report ([`Fault`]). Pure: the engine
//! paths make the requests and clean up between attempts.

use super::classify::{
    Answer, Basis, Decision, Look, Phase, Second, Speaker, Verdict, look, no_answer, settle,
};

/// A refusal: the engine's message and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub decision: Decision,
}

/// Harness trouble on a scenario's path: its words, and the decision when
/// it was an engine answer taken for trouble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub message: String,
    pub decision: Option<Decision>,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for Fault {
    fn from(message: String) -> Fault {
        Fault {
            message,
            decision: None,
        }
    }
}

impl From<&str> for Fault {
    fn from(message: &str) -> Fault {
        Fault::from(message.to_string())
    }
}

impl From<super::client::EngineError> for Fault {
    fn from(e: super::client::EngineError) -> Fault {
        Fault {
            decision: e.decision().cloned(),
            message: e.to_string(),
        }
    }
}

/// What to do after a failed attempt of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Make the same request once more (after cleaning up what the failed
    /// attempt may have left).
    Again,
    Refused(Refusal),
    /// Trouble: the (first) answer's text and the decision.
    Trouble(String, Decision),
    MissingImage,
}

/// How the first failed attempt of a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FirstFailure {
    /// An answer only a second attempt settles.
    Unsettled(Answer),
    /// Trouble already (no answer, or a marker): retried once, in case it
    /// passes.
    Trouble(String, Decision),
}

/// The bounded attempts of one request at one phase: at most two. The
/// second settles what the first left open; nothing is retried more.
#[derive(Debug, Clone)]
pub struct Attempts {
    phase: Phase,
    first: Option<FirstFailure>,
}

impl Attempts {
    pub fn new(phase: Phase) -> Attempts {
        Attempts { phase, first: None }
    }

    /// An attempt failed with `e`; `may_retry` is false when no second
    /// attempt can be made (an interrupt).
    pub fn failed(&mut self, e: &bollard::errors::Error, may_retry: bool) -> Next {
        self.failed_with(Answer::of(e), may_retry)
    }

    /// As [`Attempts::failed`], with the answer already read (`Err`: no
    /// answer, with the error's text).
    pub fn failed_with(&mut self, answer: Result<Answer, String>, may_retry: bool) -> Next {
        let phase = self.phase;
        match self.first.take() {
            None => {
                let first = match answer {
                    Err(text) => FirstFailure::Trouble(text, no_answer(phase)),
                    Ok(a) => match look(phase, &a) {
                        Look::MissingImage => return Next::MissingImage,
                        Look::Decided(d) if d.is_refusal() => {
                            return Next::Refused(Refusal {
                                message: a.message,
                                decision: d,
                            });
                        }
                        Look::Decided(d) => FirstFailure::Trouble(a.message, d),
                        Look::Unsettled => FirstFailure::Unsettled(a),
                    },
                };
                if may_retry {
                    self.first = Some(first);
                    return Next::Again;
                }
                match first {
                    FirstFailure::Trouble(text, d) => Next::Trouble(text, d),
                    FirstFailure::Unsettled(a) => {
                        let d = settle(
                            phase,
                            &a,
                            &Second::NotMade("no second attempt could be made".into()),
                        );
                        Next::Trouble(a.message, d)
                    }
                }
            }
            Some(FirstFailure::Unsettled(a)) => {
                if let Ok(b) = &answer
                    && look(phase, b) == Look::MissingImage
                {
                    return Next::MissingImage;
                }
                let second = match answer {
                    Ok(b) => Second::Answered(b),
                    Err(_) => Second::NoAnswer,
                };
                let d = settle(phase, &a, &second);
                match d.is_refusal() {
                    true => Next::Refused(Refusal {
                        message: a.message,
                        decision: d,
                    }),
                    false => Next::Trouble(a.message, d),
                }
            }
            Some(FirstFailure::Trouble(text, d)) => match answer {
                // Trouble, then the daemon's validation: the answer that
                // came is a refusal in its own right.
                Ok(b) => match look(phase, &b) {
                    Look::MissingImage => Next::MissingImage,
                    Look::Decided(v) if v.is_refusal() => Next::Refused(Refusal {
                        message: b.message,
                        decision: v,
                    }),
                    _ => Next::Trouble(text, d),
                },
                Err(_) => Next::Trouble(text, d),
            },
        }
    }

    /// The second attempt succeeded after a failed first: the trouble
    /// that passed (`None` when the first attempt succeeded). A path that
    /// cannot go on after a failed attempt (a start whose attached output
    /// ended with the failure) reports it as trouble.
    pub fn passed(&mut self) -> Option<(String, Decision)> {
        match self.first.take()? {
            FirstFailure::Unsettled(a) => {
                let d = settle(self.phase, &a, &Second::Succeeded);
                Some((a.message, d))
            }
            FirstFailure::Trouble(text, d) => Some((
                text,
                Decision {
                    basis: Basis::Passed,
                    ..d
                },
            )),
        }
    }

    /// The object the request addressed went away before the second
    /// attempt: trouble, whatever the first answer was.
    pub fn vanished(&mut self) -> Next {
        match self.first.take() {
            Some(FirstFailure::Unsettled(a)) => {
                let d = settle(self.phase, &a, &Second::Vanished);
                Next::Trouble(a.message, d)
            }
            Some(FirstFailure::Trouble(text, d)) => Next::Trouble(text, d),
            None => Next::Trouble(
                "the container went away".into(),
                Decision {
                    decided: Verdict::Trouble,
                    phase: self.phase,
                    speaker: Speaker::Nobody,
                    status: None,
                    basis: Basis::Vanished,
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Answer {
        // moby's answer at start to `--device /dev/doesnotexist`, measured
        // on this host's Docker 20.10.24 (plain and remapped).
        Answer::new(
            500,
            "error gathering device information while adding custom device \"/dev/doesnotexist\": no such file or directory",
        )
    }

    #[test]
    fn attempts_are_bounded_and_settle_by_the_second() {
        let dev = device();
        // Unsettled, then the same: a refusal, with the first answer's words.
        let mut a = Attempts::new(Phase::Start);
        assert_eq!(a.failed_with(Ok(dev.clone()), true), Next::Again);
        match a.failed_with(Ok(dev.clone()), true) {
            Next::Refused(r) => {
                assert_eq!(r.message, dev.message);
                assert_eq!(r.decision.basis, Basis::Repeated);
            }
            other => panic!("{other:?}"),
        }
        // Validation settles at once: no second attempt.
        let mut a = Attempts::new(Phase::Create);
        let v = Answer::new(
            400,
            "cannot share the host PID namespace when user namespaces are enabled",
        );
        assert!(matches!(a.failed_with(Ok(v), true), Next::Refused(_)));
        // A marker is retried once, in case it passes, then stays trouble.
        let mut a = Attempts::new(Phase::Start);
        let m = Answer::new(
            500,
            "failed to create shim task: context deadline exceeded: unknown",
        );
        assert_eq!(a.failed_with(Ok(m.clone()), true), Next::Again);
        assert!(matches!(a.failed_with(Ok(m), true), Next::Trouble(_, _)));
        // Unsettled and no second attempt possible: trouble, never a refusal.
        let mut a = Attempts::new(Phase::Create);
        assert!(matches!(
            a.failed_with(Ok(dev.clone()), false),
            Next::Trouble(_, _)
        ));
        // Gone between the attempts: trouble.
        let mut a = Attempts::new(Phase::Start);
        assert_eq!(a.failed_with(Ok(dev), true), Next::Again);
        match a.vanished() {
            Next::Trouble(_, d) => assert_eq!(d.basis, Basis::Vanished),
            other => panic!("{other:?}"),
        }
        // Trouble that passed on the second attempt is still said.
        let mut a = Attempts::new(Phase::Start);
        assert_eq!(a.failed_with(Ok(device()), true), Next::Again);
        let (_, d) = a.passed().expect("a failed first attempt");
        assert_eq!((d.decided, d.basis), (Verdict::Trouble, Basis::Passed));
        assert_eq!(Attempts::new(Phase::Start).passed(), None);
        // No answer twice: trouble.
        let mut a = Attempts::new(Phase::Exec);
        assert_eq!(
            a.failed_with(Err("hyper: connection closed".into()), true),
            Next::Again
        );
        assert!(matches!(
            a.failed_with(Err("hyper: connection closed".into()), true),
            Next::Trouble(_, _)
        ));
    }
}
