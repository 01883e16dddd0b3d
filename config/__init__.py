"""The defaults Staff Pulse ships with: question sets (``question_sets/*.yaml``) and an example
settings file. A package, so that the shipped sets are installed with the code and can be
imported by id from any directory (``pulse questions import social-work-weekly``)."""
