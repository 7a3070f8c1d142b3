//! `mb doctor`: what a provider runs when a kassa page does not work. It checks the shim and
//! the library it loads, config.php and workparams, the web server's PHP settings, and the core
//! (with the kassa's keys when it read them); prints one line per check with the fix under each
//! failure; never prints a key, a password or a value of config.php. Exit status 0 when nothing
//! failed, 1 when something did (warnings do not count).

mod core;
mod fpm_pools;
mod kassa;
mod report;
mod web_php;

use crate::args::DoctorArgs;
use crate::output::exit;
use report::Report;
use web_php::WebPhp;

pub fn run(args: DoctorArgs) -> i32 {
    let mut report = Report::new();
    let found = match &args.kassa {
        Some(dir) => kassa::check(&mut report, dir, &args.php),
        None => {
            report.skip(
                "kassa",
                "give --kassa DIR (the kassa folder) to check the shim, the library and config.php",
            );
            kassa::Found::default()
        }
    };
    let web = if let Some(ini_dir) = &args.apache_ini {
        Some(WebPhp::Apache {
            php: args.php.clone(),
            ini_dir: ini_dir.clone(),
        })
    } else if let Some(binary) = &args.php_fpm {
        Some(WebPhp::Fpm(binary.clone()))
    } else if args.kassa.is_some() && cfg!(windows) {
        Some(WebPhp::Cli(args.php.clone()))
    } else if args.kassa.is_some() {
        web_php::default_fpm().map(WebPhp::Fpm)
    } else {
        None
    };
    match &web {
        Some(web) => {
            web_php::check(&mut report, web, found.shim_dir.as_deref());
            if let WebPhp::Fpm(binary) = web {
                fpm_pools::check(&mut report, binary, &web_php::service_of(binary));
            }
        }
        None if args.kassa.is_some() => report.fail(
            "web PHP",
            "no php-fpm on PATH",
            "name the kassa's web server PHP: --php-fpm BINARY, or --apache-ini /etc/php/8.2/apache2 \
             for Apache's mod_php",
        ),
        None => report.skip("web PHP", "give --kassa DIR, --php-fpm BINARY or --apache-ini DIR"),
    }
    core::check(&mut report, &args.connection, (found.key1, found.key2));
    if report.failed() {
        exit::SERVER_CODE
    } else {
        exit::OK
    }
}
