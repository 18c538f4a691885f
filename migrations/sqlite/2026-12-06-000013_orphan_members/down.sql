-- Nothing to undo: the removed rows named no stored resource.
SELECT 1;
