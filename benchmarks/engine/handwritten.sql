-- benchmarks/policy40.yaml written by hand as one DuckDB query: the baseline the engine's
-- full batch is measured against. Same semantics as DESIGN.md "Scoring semantics" (and so as the
-- engine): an event counts if it occurred <= as_of, is not voided by as_of and its rule's
-- condition holds; points (fixed, or per unit x value) are clipped, weighted by the source's
-- reliability (1 when the source declares none) and by 0.5^(age/half_life) or counted only
-- within valid_for; caps scale a rule's points per period down to the cap on the raw points;
-- categories map raw points through their curves; the network category is the mean of the
-- valid friend/family neighbours' non-network scores (650, the scale's middle, without any).
-- {AS_OF} is replaced by a TIMESTAMP literal (DuckDB folds epoch({AS_OF}) to a constant).
WITH
rule_rows (rule_id, kind, category, points, ppu, clip_lo, clip_hi, half_life, valid_for,
           cap_points, cap_per) AS (
    VALUES
    -- credit_history
    ('bill_on_time', 'bill_payment', 'credit_history', 2.0, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL, NULL),
    ('bill_rent_on_time', 'bill_payment', 'credit_history', 3.0, NULL, NULL, NULL, 365 * 86400.0, NULL, 6.0, 30 * 86400.0),
    ('bill_late', 'bill_payment', 'credit_history', -5.0, NULL, NULL, NULL, 180 * 86400.0, NULL, NULL, NULL),
    ('bill_very_late', 'bill_payment', 'credit_history', -20.0, NULL, NULL, NULL, NULL, 730 * 86400.0, NULL, NULL),
    ('bill_large_late', 'bill_payment', 'credit_history', -8.0, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL, NULL),
    ('loan_default_amount', 'loan_default', 'credit_history', NULL, -0.01, -200.0, -20.0, NULL, 1825 * 86400.0, NULL, NULL),
    ('loan_default_consumer', 'loan_default', 'credit_history', -30.0, NULL, NULL, NULL, NULL, 730 * 86400.0, NULL, NULL),
    ('debt_settled_full', 'debt_settled', 'credit_history', NULL, 0.002, 0.0, 40.0, 365 * 86400.0, NULL, NULL, NULL),
    ('debt_settled_negotiated', 'debt_settled', 'credit_history', 5.0, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL, NULL),
    ('credit_inquiry_hard', 'credit_inquiry', 'credit_history', -2.0, NULL, NULL, NULL, NULL, 180 * 86400.0, 6.0, 30 * 86400.0),
    ('premium_on_time', 'insurance_premium_payment', 'credit_history', NULL, 0.001, 0.0, 2.0, 365 * 86400.0, NULL, NULL, NULL),
    ('premium_late', 'insurance_premium_payment', 'credit_history', -4.0, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL, NULL),
    ('dishonest_debtor', 'dishonest_judgment_debtor', 'credit_history', -150.0, NULL, NULL, NULL, NULL, 1095 * 86400.0, NULL, NULL),
    ('dishonest_debtor_aggravated', 'dishonest_judgment_debtor', 'credit_history', -100.0, NULL, NULL, NULL, NULL, 1825 * 86400.0, NULL, NULL),
    ('judgment_money', 'court_judgment', 'credit_history', NULL, -0.005, -60.0, -5.0, 730 * 86400.0, NULL, NULL, NULL),
    -- fulfilment_capacity
    ('savings_balance', 'savings_balance', 'fulfilment_capacity', NULL, 0.0005, 0.0, 30.0, 180 * 86400.0, NULL, NULL, NULL),
    ('savings_long_term', 'savings_balance', 'fulfilment_capacity', 10.0, NULL, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL),
    ('income_verified', 'income_report', 'fulfilment_capacity', NULL, 0.001, 0.0, 25.0, 365 * 86400.0, NULL, NULL, NULL),
    ('income_unverified', 'income_report', 'fulfilment_capacity', NULL, 0.0002, 0.0, 8.0, 365 * 86400.0, NULL, NULL, NULL),
    ('tax_on_time', 'tax_payment', 'fulfilment_capacity', NULL, 0.002, 0.0, 15.0, 365 * 86400.0, NULL, NULL, NULL),
    ('tax_late', 'tax_payment', 'fulfilment_capacity', -15.0, NULL, NULL, NULL, NULL, 730 * 86400.0, NULL, NULL),
    ('contract_breach_material', 'contract_breach', 'fulfilment_capacity', -25.0, NULL, NULL, NULL, NULL, 1095 * 86400.0, NULL, NULL),
    ('contract_breach_minor', 'contract_breach', 'fulfilment_capacity', -5.0, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL, NULL),
    -- personal_characteristics
    ('identity_match', 'identity_verification', 'personal_characteristics', 15.0, NULL, NULL, NULL, NULL, 730 * 86400.0, NULL, NULL),
    ('identity_mismatch', 'identity_verification', 'personal_characteristics', -20.0, NULL, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL),
    ('education_higher', 'education_attainment', 'personal_characteristics', 20.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('education_basic', 'education_attainment', 'personal_characteristics', 8.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('parent_visit', 'parent_visit', 'personal_characteristics', 1.0, NULL, NULL, NULL, 180 * 86400.0, NULL, NULL, NULL),
    ('blood_donation', 'blood_donation', 'personal_characteristics', NULL, 40.0, 0.0, 20.0, 365 * 86400.0, NULL, NULL, NULL),
    ('volunteering_hours', 'volunteering', 'personal_characteristics', NULL, 0.5, 0.0, 10.0, 365 * 86400.0, NULL, 20.0, 30 * 86400.0),
    ('volunteering_elder_care', 'volunteering', 'personal_characteristics', 2.0, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL, NULL),
    -- behaviour_preferences
    ('purchase_books', 'purchase', 'behaviour_preferences', NULL, 0.02, 0.0, 3.0, 90 * 86400.0, NULL, NULL, NULL),
    ('purchase_diapers', 'purchase', 'behaviour_preferences', 1.0, NULL, NULL, NULL, 90 * 86400.0, NULL, NULL, NULL),
    ('purchase_games', 'purchase', 'behaviour_preferences', -2.0, NULL, NULL, NULL, 90 * 86400.0, NULL, NULL, NULL),
    ('gaming_late_night', 'gaming_session', 'behaviour_preferences', NULL, -1.0, -10.0, 0.0, 60 * 86400.0, NULL, NULL, NULL),
    ('traffic_serious', 'traffic_offence', 'behaviour_preferences', -30.0, NULL, NULL, NULL, NULL, 1095 * 86400.0, NULL, NULL),
    ('traffic_minor', 'traffic_offence', 'behaviour_preferences', -5.0, NULL, NULL, NULL, 365 * 86400.0, NULL, NULL, NULL),
    ('illegal_parking', 'illegal_parking', 'behaviour_preferences', -4.0, NULL, NULL, NULL, 180 * 86400.0, NULL, NULL, NULL),
    ('peer_rating_good', 'peer_rating', 'behaviour_preferences', 0.5, NULL, NULL, NULL, 180 * 86400.0, NULL, NULL, NULL),
    ('peer_rating_bad', 'peer_rating', 'behaviour_preferences', -1.0, NULL, NULL, NULL, 180 * 86400.0, NULL, NULL, NULL)
),
rules AS (  -- DuckDB reads 0.002 as DECIMAL: every parameter is a DOUBLE from here on
    SELECT rule_id, kind, category, CAST(points AS DOUBLE) AS points, CAST(ppu AS DOUBLE) AS ppu,
           CAST(clip_lo AS DOUBLE) AS clip_lo, CAST(clip_hi AS DOUBLE) AS clip_hi,
           CAST(half_life AS DOUBLE) AS half_life, CAST(valid_for AS DOUBLE) AS valid_for,
           CAST(cap_points AS DOUBLE) AS cap_points, CAST(cap_per AS DOUBLE) AS cap_per
    FROM rule_rows
),
voided AS (
    SELECT event_id FROM voids WHERE voided_at <= {AS_OF}
),
counted AS (  -- one row per (event, rule) that counts at as_of
    SELECT e.subject_id, r.rule_id, r.category, r.cap_points,
           least(greatest(coalesce(r.points, r.ppu * coalesce(e.value, 0.0)),
                          coalesce(r.clip_lo, -1e300)), coalesce(r.clip_hi, 1e300)) AS raw,
           coalesce(s.reliability, 1.0) AS rel,
           CASE WHEN r.half_life IS NULL THEN 1.0
                ELSE pow(0.5, (epoch({AS_OF}) - epoch(e.occurred_at)) / r.half_life) END AS decay,
           CASE WHEN r.cap_per IS NULL THEN 0
                ELSE CAST(floor(epoch(e.occurred_at) / r.cap_per) AS BIGINT) END AS bucket
    FROM events e
    ANTI JOIN voided v ON v.event_id = e.event_id
    JOIN rules r ON r.kind = e.kind
    LEFT JOIN sources s ON s.source_id = e.source_id
    WHERE e.occurred_at <= {AS_OF}
      AND e.kind IN ('bill_payment', 'loan_default', 'debt_settled', 'credit_inquiry',
                     'insurance_premium_payment', 'dishonest_judgment_debtor', 'court_judgment',
                     'savings_balance', 'income_report', 'tax_payment', 'contract_breach',
                     'identity_verification', 'education_attainment', 'parent_visit',
                     'blood_donation', 'volunteering', 'purchase', 'gaming_session',
                     'traffic_offence', 'illegal_parking', 'peer_rating')
      AND (r.valid_for IS NULL OR epoch({AS_OF}) - epoch(e.occurred_at) < r.valid_for)
      AND coalesce(CASE r.rule_id
        WHEN 'bill_on_time' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) = 0
        WHEN 'bill_rent_on_time' THEN e.attrs ->> '$.bill_type' = 'rent'
                                      AND CAST(e.attrs ->> '$.days_late' AS DOUBLE) = 0
        WHEN 'bill_late' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) > 0
                              AND CAST(e.attrs ->> '$.days_late' AS DOUBLE) <= 30
        WHEN 'bill_very_late' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) > 30
        WHEN 'bill_large_late' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) > 7
                                    AND CAST(e.attrs ->> '$.amount' AS DOUBLE) >= 1000
        WHEN 'loan_default_consumer' THEN e.attrs ->> '$.loan_type' IN ('peer_to_peer', 'consumer')
                                          AND CAST(e.attrs ->> '$.days_overdue' AS DOUBLE) > 90
        WHEN 'debt_settled_full' THEN NOT CAST(e.attrs ->> '$.negotiated' AS BOOLEAN)
        WHEN 'debt_settled_negotiated' THEN CAST(e.attrs ->> '$.negotiated' AS BOOLEAN)
        WHEN 'credit_inquiry_hard' THEN e.attrs ->> '$.purpose' IN ('loan', 'credit_card')
        WHEN 'premium_on_time' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) = 0
        WHEN 'premium_late' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) > 15
        WHEN 'dishonest_debtor_aggravated' THEN CAST(e.attrs ->> '$.aggravated' AS BOOLEAN)
        WHEN 'judgment_money' THEN e.attrs ->> '$.case_type' IN ('civil', 'commercial')
                                   AND NOT CAST(e.attrs ->> '$.non_monetary' AS BOOLEAN)
        WHEN 'savings_long_term' THEN CAST(e.attrs ->> '$.months_held' AS DOUBLE) >= 12
                                      AND e.attrs ->> '$.account_type' IN ('time_deposit', 'wealth_management')
        WHEN 'income_verified' THEN CAST(e.attrs ->> '$.verified' AS BOOLEAN)
        WHEN 'income_unverified' THEN NOT CAST(e.attrs ->> '$.verified' AS BOOLEAN)
        WHEN 'tax_on_time' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) = 0
        WHEN 'tax_late' THEN CAST(e.attrs ->> '$.days_late' AS DOUBLE) > 30
        WHEN 'contract_breach_material' THEN e.attrs ->> '$.severity' IN ('material', 'fundamental')
        WHEN 'contract_breach_minor' THEN e.attrs ->> '$.severity' = 'minor'
                                          AND CAST(e.attrs ->> '$.amount' AS DOUBLE) < 5000
        WHEN 'identity_match' THEN e.attrs ->> '$.result' = 'match'
        WHEN 'identity_mismatch' THEN e.attrs ->> '$.result' = 'mismatch'
        WHEN 'education_higher' THEN CAST(e.attrs ->> '$.verified' AS BOOLEAN)
             AND e.attrs ->> '$.level' IN ('senior_secondary', 'vocational', 'associate')
        WHEN 'education_basic' THEN CAST(e.attrs ->> '$.verified' AS BOOLEAN)
             AND e.attrs ->> '$.level' IN ('primary', 'junior_secondary')
        WHEN 'parent_visit' THEN CAST(e.attrs ->> '$.lives_apart' AS BOOLEAN)
                                 AND CAST(e.attrs ->> '$.days_since_last' AS DOUBLE) <= 60
        WHEN 'volunteering_elder_care' THEN e.attrs ->> '$.activity' = 'elder_care'
        WHEN 'purchase_books' THEN e.attrs ->> '$.category' = 'books'
        WHEN 'purchase_diapers' THEN e.attrs ->> '$.category' = 'diapers'
                                     AND e.attrs ->> '$.channel' = 'offline'
        WHEN 'purchase_games' THEN e.attrs ->> '$.category' = 'video_games' AND e.value > 200
        WHEN 'gaming_late_night' THEN CAST(e.attrs ->> '$.late_night' AS BOOLEAN) AND e.value > 3
        WHEN 'traffic_serious' THEN e.attrs ->> '$.severity' = 'serious'
                                    OR CAST(e.attrs ->> '$.licence_points' AS DOUBLE) >= 6
        WHEN 'traffic_minor' THEN e.attrs ->> '$.severity' <> 'serious'
                                  AND CAST(e.attrs ->> '$.licence_points' AS DOUBLE) < 6
        WHEN 'illegal_parking' THEN CAST(e.attrs ->> '$.blocking' AS BOOLEAN)
                                    OR CAST(e.attrs ->> '$.fine' AS DOUBLE) >= 200
        WHEN 'peer_rating_good' THEN e.value >= 4.5 AND CAST(e.attrs ->> '$.scale_max' AS DOUBLE) = 5
        WHEN 'peer_rating_bad' THEN e.value <= 2 AND CAST(e.attrs ->> '$.scale_max' AS DOUBLE) = 5
        ELSE TRUE END, FALSE)
),
capped AS (  -- per (subject, rule, cap period): scale down to the cap on the raw points
    SELECT subject_id, category,
           sum(raw * rel * decay) * CASE
               WHEN any_value(cap_points) IS NULL OR sum(raw) = 0 THEN 1.0
               ELSE least(1.0, any_value(cap_points) / abs(sum(raw))) END AS points
    FROM counted
    GROUP BY subject_id, rule_id, category, bucket
),
raw AS (
    SELECT subject_id,
           sum(points) FILTER (WHERE category = 'credit_history') AS credit_history,
           sum(points) FILTER (WHERE category = 'fulfilment_capacity') AS fulfilment_capacity,
           sum(points) FILTER (WHERE category = 'personal_characteristics') AS personal_characteristics,
           sum(points) FILTER (WHERE category = 'behaviour_preferences') AS behaviour_preferences
    FROM capped
    GROUP BY subject_id
),
curved AS (  -- each own category through its curve: 0..1
    SELECT s.subject_id, s.subject_kind,
           1.0 / (1.0 + exp(-(coalesce(r.credit_history, 0.0) + 5.0) / 10.0)) AS c_credit,
           least(1.0, greatest(0.0, (coalesce(r.fulfilment_capacity, 0.0) + 30.0) / 55.0)) AS c_fulfil,
           least(1.0, greatest(0.0, (coalesce(r.personal_characteristics, 0.0) + 10.0) / 40.0)) AS c_personal,
           1.0 / (1.0 + exp(-(coalesce(r.behaviour_preferences, 0.0) + 5.0) / 5.0)) AS c_behaviour
    FROM subjects s
    LEFT JOIN raw r USING (subject_id)
),
own AS (  -- the non-network score, what the neighbours' network terms read
    SELECT *,
           350.0 + 600.0 * (0.35 * c_credit + 0.25 * c_fulfil + 0.15 * c_personal
                            + 0.20 * c_behaviour) / 0.95 AS own_score
    FROM curved
),
valid_rel AS (
    SELECT subject_id, related_id
    FROM relations
    WHERE relation IN ('friend', 'family')
      AND (valid_from IS NULL OR valid_from <= {AS_OF})
      AND (valid_to IS NULL OR valid_to > {AS_OF})
),
pairs AS (  -- undirected, one hop, each neighbour once
    SELECT DISTINCT subject_id, related_id FROM (
        SELECT subject_id, related_id FROM valid_rel
        UNION ALL
        SELECT related_id, subject_id FROM valid_rel)
    WHERE subject_id <> related_id
),
net AS (
    SELECT p.subject_id, avg(o.own_score) AS net_raw
    FROM pairs p JOIN own o ON o.subject_id = p.related_id
    GROUP BY p.subject_id
),
parts AS (
    SELECT o.subject_id, o.subject_kind,
           600.0 * 0.35 * c_credit AS cat__credit_history,
           600.0 * 0.25 * c_fulfil AS cat__fulfilment_capacity,
           600.0 * 0.15 * c_personal AS cat__personal_characteristics,
           600.0 * 0.20 * c_behaviour AS cat__behaviour_preferences,
           600.0 * 0.05 * least(1.0, greatest(0.0, (coalesce(n.net_raw, 650.0) - 350.0) / 600.0))
               AS cat__interpersonal_relationships
    FROM own o
    LEFT JOIN net n USING (subject_id)
),
scored AS (
    SELECT *,
           350.0 + cat__credit_history + cat__fulfilment_capacity + cat__personal_characteristics
               + cat__behaviour_preferences + cat__interpersonal_relationships AS score
    FROM parts
)
SELECT subject_id, subject_kind, score,
       CASE WHEN score >= 350 AND score < 550 THEN 'poor'
            WHEN score >= 550 AND score < 600 THEN 'fair'
            WHEN score >= 600 AND score < 650 THEN 'good'
            WHEN score >= 650 AND score < 700 THEN 'very_good'
            WHEN score >= 700 AND score <= 950 THEN 'excellent' END AS band,
       CAST(rank() OVER (PARTITION BY subject_kind ORDER BY score DESC) AS DOUBLE) AS rank,
       100.0 * cume_dist() OVER (PARTITION BY subject_kind ORDER BY score ASC) AS percentile,
       cat__credit_history, cat__fulfilment_capacity, cat__personal_characteristics,
       cat__behaviour_preferences, cat__interpersonal_relationships
FROM scored
