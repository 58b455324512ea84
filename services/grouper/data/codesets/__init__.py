"""Code-set editions (ICD-10, ICD-9-CM) as data files; see generate.py and editions.csv."""
