"""Dataset formats and vocabularies several layers share: the occupations and their stereotyped genders,
the MCQ pool's format and how a response to it is read, styled GSM8K answers, a reward model's input
encoding, the desired-distribution tables. Each experiment's data *builders* are its own
(experiments/<name>/); what stays here is what trainers, the testbed and scoring read alike."""
