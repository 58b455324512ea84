-- Overlapping inpatient episodes (V-EPISODE-OVERLAP) need each claim's admission date; claims recorded
-- before this migration keep NULL and are not judged for overlap.
ALTER TABLE claims ADD COLUMN tgl_masuk date;
-- Who may upgrade (Perpres 82/2018 Art. 51(3) as amended): pemda, ppu_phk, or NULL (ParticipantChanged).
ALTER TABLE participants ADD COLUMN member_category text;
