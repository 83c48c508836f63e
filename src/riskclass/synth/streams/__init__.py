"""The synthetic city's monthly event streams, one module per domain, each a function of the shared
``CityState`` (synth/state.py) and the month. ``CitySimulation.step`` calls them in a fixed order, which is the
order of their random draws.

- public.py: complaints and reports (12315/12345), negative public opinion
- penalties.py: administrative penalties
- debtors.py: dishonest judgement debtors, equity freezes and pledges
- registry.py: registration changes (and legal-representative roles), revocation and deregistration
- honours.py: honours
- reports.py: annual reports and late filing
- listings.py: the abnormal-operation list and its escalation to the serious-violation list
- inspections.py: 双随机 inspections (their outcome: synth/outcomes.py)
- repairs.py: credit repairs
"""
