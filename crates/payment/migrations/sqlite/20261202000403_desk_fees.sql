-- Dossiers whose fees were paid at the desk before the figures counted them.
UPDATE dossiers SET fee_desk = (
    SELECT p.amount FROM payments p
    WHERE p.dossier_id = dossiers.id AND p.settles = 1 AND p.status = 'paid' AND p.provider = 'desk' AND p.amount > 0
) WHERE fee_desk IS NULL AND EXISTS (
    SELECT 1 FROM payments p
    WHERE p.dossier_id = dossiers.id AND p.settles = 1 AND p.status = 'paid' AND p.provider = 'desk' AND p.amount > 0
);
