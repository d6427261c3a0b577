"""Cases and the review queue (principles 2 and 8): signals about one subject gathered into
a case, prioritised, reviewed and decided; decisions become actions and bank entries."""
