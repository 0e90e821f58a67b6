-- The devices each engine's silence rule watches, kept across restarts: a device that stops
-- before or during a restart is still found silent after it. Written by the alert stage every
-- few seconds; `last_heard` is on the engine's clock, `allowed_silence` from the device's profile.
CREATE TABLE watched_devices (
    facility text NOT NULL,
    device_identifier text NOT NULL,
    last_heard timestamptz NOT NULL,
    allowed_silence interval NOT NULL,
    patient_identifier text,
    assigning_authority text,
    location text,
    is_silent boolean NOT NULL,
    PRIMARY KEY (facility, device_identifier)
);
