"""Helpdesk mail written in legacy charsets, to measure charset detection.

Shared by tests/unit/test_charsets.py and benchmarks/charsets.py. Each sample is a
short support request as a customer would write it: a subject, the sender's name
and a body of a few sentences, all encodable in the sample's charset.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SAMPLES", "Sample", "message"]


@dataclass(frozen=True)
class Sample:
    """One request written in `charset` (a Python codec name)."""

    charset: str
    language: str
    name: str
    subject: str
    body: str


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "koi8_r",
        "Russian",
        "Иван Петров",
        "Не работает вход в личный кабинет",
        "Здравствуйте!\n\n"
        "Со вчерашнего дня не могу войти в личный кабинет: после ввода пароля\n"
        "страница просто обновляется и ничего не происходит. Пароль я сбросил,\n"
        "но это не помогло. Подскажите, пожалуйста, что можно сделать?\n\n"
        "С уважением,\nИван Петров\n",
    ),
    Sample(
        "cp1251",
        "Russian",
        "Мария Соколова",
        "Счёт за март выставлен дважды",
        "Добрый день.\n\n"
        "В марте с нашей карты дважды списали оплату за тариф «Бизнес».\n"
        "Номер договора 4512, сумма 3 200 рублей. Просим вернуть лишний платёж\n"
        "и прислать исправленный счёт на почту бухгалтерии.\n\n"
        "Спасибо,\nМария Соколова\n",
    ),
    Sample(
        "cp1251",
        "Ukrainian",
        "Олена Шевченко",
        "Не приходять сповіщення",
        "Доброго дня!\n\n"
        "Вже тиждень мені не приходять сповіщення про нові заявки. У налаштуваннях\n"
        "все ввімкнено, спам я перевірила. Чи можете ви подивитися, що сталося?\n\n"
        "Дякую,\nОлена Шевченко\n",
    ),
    Sample(
        "iso8859_2",
        "Polish",
        "Łukasz Wójcik",
        "Błąd przy zapisywaniu zamówienia",
        "Dzień dobry,\n\n"
        "przy próbie zapisania zamówienia nr 2231 pojawia się komunikat o błędzie\n"
        "i wszystkie zmiany znikają. Próbowałem w dwóch przeglądarkach, za każdym\n"
        "razem jest tak samo. Proszę o pilną pomoc, bo klient czeka na dostawę.\n\n"
        "Pozdrawiam serdecznie,\nŁukasz Wójcik\n",
    ),
    Sample(
        "iso8859_2",
        "Czech",
        "Jiří Dvořák",
        "Nefunguje tisk faktur",
        "Dobrý den,\n\n"
        "od včerejška nejde vytisknout žádnou fakturu: tlačítko Tisk nic nedělá\n"
        "a v náhledu je prázdná stránka. Účetní potřebuje faktury ještě dnes.\n"
        "Můžete se na to prosím podívat?\n\n"
        "Děkuji,\nJiří Dvořák\n",
    ),
    Sample(
        "cp1252",
        "French",
        "Hélène Lefèvre",
        "Problème de connexion à l’application",
        "Bonjour,\n\n"
        "depuis la mise à jour de lundi, je ne peux plus me connecter à "
        "l’application :\n"
        "le message « identifiant inconnu » s’affiche alors que mon compte existe "
        "toujours.\n"
        "Pourriez-vous vérifier s’il y a un problème de votre côté ?\n\n"
        "Merci d’avance et bonne journée,\nHélène Lefèvre\n",
    ),
    Sample(
        "cp1252",
        "German",
        "Jürgen Müller",
        "Rechnung für März fehlt",
        "Guten Tag,\n\n"
        "für den Monat März habe ich noch keine Rechnung erhalten. Könnten Sie mir\n"
        "die Rechnung über 49,90 € bitte noch einmal zuschicken? Außerdem möchte ich\n"
        "die Lieferadresse ändern: Hauptstraße 12, 80331 München.\n\n"
        "Mit freundlichen Grüßen\nJürgen Müller\n",
    ),
    Sample(
        "iso8859_7",
        "Greek",
        "Γιώργος Παπαδόπουλος",
        "Πρόβλημα με την παραγγελία μου",
        "Καλημέρα σας,\n\n"
        "παρήγγειλα πριν από δέκα ημέρες δύο προϊόντα, αλλά μέχρι σήμερα δεν έχω\n"
        "λάβει τίποτα και η σελίδα παρακολούθησης δεν δείχνει καμία ενημέρωση.\n"
        "Μπορείτε να με ενημερώσετε πότε θα γίνει η αποστολή;\n\n"
        "Ευχαριστώ,\nΓιώργος Παπαδόπουλος\n",
    ),
    Sample(
        "iso8859_9",
        "Turkish",
        "Ayşe Yılmaz",
        "Şifremi sıfırlayamıyorum",
        "Merhaba,\n\n"
        "şifremi sıfırlamak için gönderilen bağlantıya tıkladığımda sayfa hata\n"
        "veriyor ve yeni şifre belirleyemiyorum. Hesabıma acilen ulaşmam gerekiyor,\n"
        "yardımcı olabilir misiniz?\n\n"
        "Teşekkürler,\nAyşe Yılmaz\n",
    ),
    Sample(
        "cp1256",
        "Arabic",
        "أحمد الخطيب",
        "مشكلة في تسجيل الدخول",
        "مرحبا،\n\n"
        "لا أستطيع تسجيل الدخول إلى حسابي منذ يومين، وتظهر رسالة تقول إن كلمة المرور\n"
        "غير صحيحة رغم أنني قمت بتغييرها. أرجو مساعدتي في حل هذه المشكلة في أقرب وقت.\n\n"
        "شكرا لكم،\nأحمد الخطيب\n",
    ),
    Sample(
        "cp1255",
        "Hebrew",
        "דוד כהן",
        "בעיה בהתחברות לחשבון",
        "שלום,\n\n"
        "מאז אתמול אני לא מצליח להתחבר לחשבון שלי. אחרי הזנת הסיסמה הדף נטען מחדש\n"
        "ולא קורה כלום. ניסיתי לאפס את הסיסמה אבל זה לא עזר. אשמח לעזרה.\n\n"
        "תודה,\nדוד כהן\n",
    ),
    Sample(
        "shift_jis",
        "Japanese",
        "山田太郎",
        "ログインできません",
        "お世話になっております。\n\n"
        "昨日からシステムにログインできなくなりました。パスワードを入力すると、\n"
        "画面が更新されるだけで何も起きません。パスワードの再設定も試しましたが、\n"
        "改善しませんでした。ご確認のほど、よろしくお願いいたします。\n\n"
        "山田太郎\n",
    ),
    Sample(
        "euc_jp",
        "Japanese",
        "佐藤花子",
        "請求書の再発行について",
        "いつもお世話になっております。\n\n"
        "先月分の請求書を紛失してしまいました。お手数ですが、再発行して\n"
        "メールでお送りいただけますでしょうか。宛名は株式会社サンプルでお願いします。\n\n"
        "佐藤花子\n",
    ),
    Sample(
        "euc_kr",
        "Korean",
        "김민수",
        "로그인 오류 문의",
        "안녕하세요.\n\n"
        "어제부터 계정에 로그인할 수 없습니다. 비밀번호를 입력하면 화면이 새로고침만 되고\n"
        "아무 일도 일어나지 않습니다. 비밀번호를 재설정해 보았지만 해결되지 않았습니다.\n"
        "확인 부탁드립니다.\n\n"
        "감사합니다.\n김민수 드림\n",
    ),
    Sample(
        "gb2312",
        "Chinese (simplified)",
        "王小明",
        "无法登录系统",
        "您好：\n\n"
        "从昨天开始我无法登录系统。输入密码后页面只是刷新，没有任何反应。\n"
        "我已经尝试重置密码，但问题仍然存在。请帮忙查看一下，谢谢！\n\n"
        "王小明\n",
    ),
    Sample(
        "big5",
        "Chinese (traditional)",
        "陳大文",
        "訂單尚未收到",
        "您好：\n\n"
        "我在上週訂購了兩件商品，但到現在還沒有收到，追蹤頁面也沒有任何更新。\n"
        "請問什麼時候會出貨？麻煩幫我確認一下，謝謝。\n\n"
        "陳大文\n",
    ),
)


def message(sample: Sample, declared: str | None, *, body: bool = True) -> bytes:
    """The sample as an 8-bit email: raw (unlabelled) Subject and From name, and a
    text/plain body declared as `declared` (no charset parameter when None); without
    `body`, the body is a line of ASCII and the headers are all there is to go by."""
    ctype = "text/plain" if declared is None else f"text/plain; charset={declared}"
    head = (
        b"From: " + sample.name.encode(sample.charset) + b" <customer@example.org>\r\n"
        b"To: support@example.com\r\n"
        b"Subject: " + sample.subject.encode(sample.charset) + b"\r\n"
        b"Message-ID: <charset-sample@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: " + ctype.encode() + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    text = sample.body if body else "Ticket 4512\n"
    return head + text.replace("\n", "\r\n").encode(sample.charset)
