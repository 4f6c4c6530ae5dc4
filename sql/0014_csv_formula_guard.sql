-- CSV cells that a spreadsheet would read as a formula get a leading apostrophe, unless a schedule for
-- machine consumers turns it off.
ALTER TABLE shared_report_schedules
    ADD COLUMN csv_formula_guard boolean NOT NULL DEFAULT true;
