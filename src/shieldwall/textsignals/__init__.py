"""Text signals: term lists, URL lists, search deterrence, contact checks and conversations
(principles 3, 4, 6 and 7)."""
