-- Receipt numbers without a row lock: one sequence per agency and year (receipt_seq."MHLW-2026"),
-- created on first use. A counter row was locked from the moment a number was taken until COMMIT,
-- across receipt signing and every statement after it; nextval locks nothing. A number taken by a
-- transaction that then fails is not reused: receipt numbers are unique and increasing, with gaps.

CREATE SCHEMA receipt_seq;

CREATE FUNCTION next_receipt_number(agency text, year integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    name text := format('receipt_seq.%I', agency || '-' || year);
BEGIN
    IF to_regclass(name) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s', name);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- another transaction created it at the same moment
        END;
    END IF;
    RETURN nextval(name::regclass);
END
$$;

-- The counters so far become the sequences' starting points.
DO $$
DECLARE
    counter record;
BEGIN
    FOR counter IN SELECT agency_code, year, last FROM receipt_counter LOOP
        EXECUTE format('CREATE SEQUENCE receipt_seq.%I START WITH %s', counter.agency_code || '-' || counter.year,
                       counter.last + 1);
    END LOOP;
END
$$;

DROP TABLE receipt_counter;
