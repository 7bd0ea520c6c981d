-- Dossiers whose fees were paid through an online gateway before the roll-ups counted them.
UPDATE dossiers SET fee_online = (
    SELECT p.amount FROM payments p
    WHERE p.dossier_id = dossiers.id AND p.settles = 1 AND p.status = 'paid' AND p.provider <> 'desk'
) WHERE fee_online IS NULL AND EXISTS (
    SELECT 1 FROM payments p
    WHERE p.dossier_id = dossiers.id AND p.settles = 1 AND p.status = 'paid' AND p.provider <> 'desk'
);
