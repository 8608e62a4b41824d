DROP TRIGGER IF EXISTS trg_messages_touch_conversation ON messages.messages;
DROP FUNCTION IF EXISTS messages.touch_conversation();

DROP TABLE IF EXISTS messages.messages;
DROP TABLE IF EXISTS messages.participants;
DROP TABLE IF EXISTS messages.conversations;
DROP TABLE IF EXISTS users.contacts;
DROP TABLE IF EXISTS users.profiles;
DROP TABLE IF EXISTS auth.sessions;
DROP TABLE IF EXISTS auth.accounts;

DROP SCHEMA IF EXISTS messages;
DROP SCHEMA IF EXISTS users;
DROP SCHEMA IF EXISTS auth;
