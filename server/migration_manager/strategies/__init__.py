"""Deployment strategies: how a migration's statements reach the database (offline as written, online
expand/contract, shadow copy); batches.py is the batched loop they share."""
