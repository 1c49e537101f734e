-- SMS still `sending` long after their send began were left by a process that
-- stopped mid-send; the upkeep sweep finds them through this small index.
CREATE INDEX sms_messages_sending ON sms_messages (created_at) WHERE status = 'sending';
