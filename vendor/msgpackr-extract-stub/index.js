// msgpackr catches this and uses its pure-JavaScript string decoder (see vendor/msgpackr-extract-stub/package.json).
throw new Error('msgpackr-extract native acceleration is not installed');
