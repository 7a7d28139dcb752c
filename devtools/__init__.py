"""Development tools shared by the test suite and the benchmark; the product never imports them.

    services.py   throwaway PostgreSQL and Redis (`python -m devtools.services -- command`)
    phone_band_adaptation.py   rebuilds the recogniser's phone-line transform (build time only)
"""
